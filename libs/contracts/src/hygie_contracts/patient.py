"""Events of the patient index, on ``hygie.patient.v1`` keyed by patient (golden) id."""

from __future__ import annotations

__all__ = ["PATIENT_TOPIC"]

PATIENT_TOPIC = "hygie.patient.v1"
