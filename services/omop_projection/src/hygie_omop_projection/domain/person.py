"""Patients → OMOP persons, pseudonymised (pure).

No name, NIR/INS, address or phone reaches OMOP: the patient events do not carry names
nor addresses, and of the rest only sex, birth date and death date are kept.
``person_source_value`` is HMAC-SHA256(key, golden patient id), truncated to 50 characters
(the column's width): stable for a key, not reversible without it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

__all__ = [
    "GENDER_CONCEPTS",
    "PatientState",
    "death_row",
    "person_row",
    "pseudonym",
    "survivor_of",
]

#: OMOP Gender vocabulary: FEMALE 8532, MALE 8507; other/unknown have no standard concept.
GENDER_CONCEPTS = {"male": 8507, "female": 8532}
EHR_TYPE_CONCEPT = 32817


def pseudonym(key: bytes, patient_id: UUID) -> str:
    """The keyed hash written as ``person_source_value``."""
    return hmac.new(key, str(patient_id).encode(), hashlib.sha256).hexdigest()[:50]


@dataclass(frozen=True, slots=True)
class PatientState:
    """What the projection keeps of a golden record (from the patient events)."""

    patient_id: UUID
    active: bool = True
    replaced_by: UUID | None = None
    sex: str = "unknown"
    birth_date: date | None = None
    death_date: date | None = None
    identifiers: tuple[tuple[str, str], ...] = ()


def survivor_of(patient_id: UUID, replaced_by: Mapping[UUID, UUID | None]) -> UUID:
    """Follow merges to the surviving golden record (cycles are cut)."""
    seen = {patient_id}
    current = patient_id
    while (nxt := replaced_by.get(current)) is not None and nxt not in seen:
        seen.add(nxt)
        current = nxt
    return current


def person_row(patient: PatientState, *, person_id: int, key: bytes) -> dict[str, Any] | None:
    """The ``person`` row of an unmerged patient; None for one merged into another.

    A person without a birth year cannot be written (``year_of_birth`` is required by the
    CDM): it is left out until the patient index knows the birth date.
    """
    if patient.replaced_by is not None or patient.birth_date is None:
        return None
    birth = patient.birth_date
    return {
        "person_id": person_id,
        "gender_concept_id": GENDER_CONCEPTS.get(patient.sex, 0),
        "year_of_birth": birth.year,
        "month_of_birth": birth.month,
        "day_of_birth": birth.day,
        "birth_datetime": None,
        "race_concept_id": 0,
        "ethnicity_concept_id": 0,
        "person_source_value": pseudonym(key, patient.patient_id),
        "gender_source_value": patient.sex,
        "gender_source_concept_id": 0,
    }


def death_row(patient: PatientState, *, person_id: int) -> dict[str, Any] | None:
    """The ``death`` row of a patient the patient index knows to be dead."""
    if patient.death_date is None or patient.replaced_by is not None:
        return None
    return {
        "person_id": person_id,
        "death_date": patient.death_date,
        "death_datetime": None,
        "death_type_concept_id": EHR_TYPE_CONCEPT,
        "cause_concept_id": 0,
    }
