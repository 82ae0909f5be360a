"""FHIR R4 edge of the patient index: Patient, PIXm, PDQm, review queue."""
