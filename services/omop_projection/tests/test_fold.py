"""Pure fold: patient and EHR events → changes; persons are pseudonymised."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from hygie_contracts.patient import PatientMerged, PatientUnmerged
from hygie_omop_projection.domain import fold
from hygie_omop_projection.domain.person import PatientState, person_row, pseudonym, survivor_of
from hygie_omop_projection.testing import (
    blood_pressure,
    committed,
    composition,
    deleted,
    registered,
)

KEY = b"k" * 32


def test_registration_keeps_only_sex_birth_and_death_and_identifiers():
    pid = uuid4()
    changes = fold.apply(registered(pid, ipp="123"), fold.State())
    (patient,) = changes.patients
    assert patient.birth_date == date(1970, 5, 17)
    assert patient.identifiers == (("urn:oid:1.2.250.1.71.4.2.7", "123"),)
    assert changes.refresh_patients == {pid}


def test_person_row_is_pseudonymised_with_a_keyed_hash():
    pid = uuid4()
    row = person_row(
        PatientState(pid, sex="male", birth_date=date(1980, 1, 2)), person_id=7, key=KEY
    )
    assert row["person_source_value"] == pseudonym(KEY, pid) != str(pid)
    assert len(row["person_source_value"]) <= 50
    assert pseudonym(b"other key" * 4, pid) != row["person_source_value"]
    assert (row["gender_concept_id"], row["year_of_birth"], row["month_of_birth"]) == (
        8507,
        1980,
        1,
    )
    assert set(row) <= {
        "person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth",
        "birth_datetime", "race_concept_id", "ethnicity_concept_id", "person_source_value",
        "gender_source_value", "gender_source_concept_id",
    }  # fmt: skip


def test_merge_points_to_the_survivor_and_unmerge_restores():
    a, b = uuid4(), uuid4()
    state = fold.State(patients={a: PatientState(a, birth_date=date(1990, 1, 1))})
    merged = fold.apply(PatientMerged(patient_id=a, survivor_id=b), state).patients[0]
    assert merged.replaced_by == b
    assert person_row(merged, person_id=1, key=KEY) is None
    assert survivor_of(a, {a: b, b: None}) == b
    back = fold.apply(
        PatientUnmerged(patient_id=a, previous_survivor_id=b), fold.State(patients={a: merged})
    ).patients[0]
    assert back.replaced_by is None
    assert person_row(back, person_id=1, key=KEY) is not None


def test_composition_versions_and_deletion_share_the_versioned_object():
    ehr, voi = uuid4(), uuid4()
    first = fold.apply(committed(ehr, composition(blood_pressure(1, 2)), voi=voi), fold.State())
    gone = fold.apply(deleted(ehr, voi, 2), fold.State())
    assert first.compositions[0].versioned_object_id == gone.compositions[0].versioned_object_id
    assert gone.compositions[0].composition is None
