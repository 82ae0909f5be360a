"""Hygie audit service: a tamper-evident (RFC 9162 Merkle) log of every access and change,
as FHIR AuditEvents shaped by IHE BALP."""
