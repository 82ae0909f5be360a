"""Hygie terminology service: OMOP vocabulary releases, FHIR terminology resources and ops."""
