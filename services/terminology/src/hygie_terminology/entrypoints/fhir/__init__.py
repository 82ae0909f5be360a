"""FHIR R4 terminology API (base ``/fhir``)."""
