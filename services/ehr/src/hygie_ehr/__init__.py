"""Hygie EHR store: openEHR EHRs (walking skeleton of the platform foundation)."""
