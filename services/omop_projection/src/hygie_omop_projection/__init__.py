"""Hygie OMOP projection: OMOP CDM 5.4 read model of the clinical and patient events."""
