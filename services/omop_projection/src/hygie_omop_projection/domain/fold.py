"""The projection as a pure fold: ``apply(state, event) -> changes`` (CONVENTIONS §4).

``state`` is what the projection knows of the event's aggregate (a patient, an EHR); the
changes say what to store and which compositions and persons to (re)materialise. The
writer (``service.project``) loads the state, applies the changes and materialises the
OMOP rows with the mapper — the same code serves live consumption and rebuilds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Any
from uuid import UUID

from hygie_contracts import Event
from hygie_contracts.ehr import (
    CompositionCommitted,
    CompositionDeleted,
    EhrCreated,
    EhrErased,
    EhrStatusUpdated,
)
from hygie_contracts.patient import (
    PatientLinked,
    PatientMerged,
    PatientRegistered,
    PatientUnlinked,
    PatientUnmerged,
    PatientUpdated,
)
from hygie_contracts.terminology import ConceptMapChanged, ReleaseActivated

from .person import PatientState

__all__ = [
    "Changes",
    "CompositionStored",
    "EhrSubjectSet",
    "State",
    "TerminologyChanged",
    "apply",
    "versioned_object_id",
]


def versioned_object_id(version_uid: str) -> str:
    """``<uuid>::<system>::<n>`` -> ``<uuid>`` (the composition, across its versions)."""
    return version_uid.split("::", 1)[0]


@dataclass(frozen=True)
class State:
    """What the writer loaded for an event: the patients it names (by id)."""

    patients: dict[UUID, PatientState] = field(default_factory=dict)


@dataclass(frozen=True)
class EhrSubjectSet:
    ehr_id: UUID
    namespace: str | None
    subject_id: str | None
    queryable: bool | None = None
    """EHR_STATUS.is_queryable: False keeps the EHR out of the research view (None: unknown)"""


@dataclass(frozen=True)
class CompositionStored:
    """The latest version of a composition (None: deleted) — to be re-materialised."""

    ehr_id: UUID
    versioned_object_id: str
    version_uid: str
    composition: dict[str, Any] | None


@dataclass(frozen=True)
class TerminologyChanged:
    """Cached translations to drop: of some codes of a vocabulary, or all (None)."""

    system: str | None = None
    codes: tuple[str, ...] = ()
    release_label: str | None = None
    """the vocabulary release now answering (``cdm_source.vocabulary_version``)"""


@dataclass
class Changes:
    """What an event changes."""

    patients: list[PatientState] = field(default_factory=list)
    identifiers_removed: list[tuple[str, str]] = field(default_factory=list)
    ehr_subjects: list[EhrSubjectSet] = field(default_factory=list)
    compositions: list[CompositionStored] = field(default_factory=list)
    terminology: list[TerminologyChanged] = field(default_factory=list)
    refresh_patients: set[UUID] = field(default_factory=set)
    """golden ids whose person, death and EHR resolution must be recomputed"""
    erased_ehrs: list[UUID] = field(default_factory=list)
    """EHRs erased: everything projected from them goes (rows, lineage, ids, state)"""


@singledispatch
def apply(event: Event, state: State) -> Changes:
    """Events the projection does not need change nothing."""
    return Changes()


def _snapshot(event: PatientRegistered | PatientUpdated, state: State) -> Changes:
    previous = state.patients.get(event.patient_id)
    identifiers = tuple((i.system, i.value) for i in event.identifiers)
    patient = PatientState(
        patient_id=event.patient_id,
        active=event.active,
        replaced_by=event.replaced_by,
        sex=event.sex,
        birth_date=event.birth_date,
        death_date=event.death_date,
        identifiers=identifiers,
    )
    removed = [i for i in (previous.identifiers if previous else ()) if i not in identifiers]
    touched = {event.patient_id}
    if previous is not None and previous.replaced_by is not None:
        touched.add(previous.replaced_by)
    if event.replaced_by is not None:
        touched.add(event.replaced_by)
    return Changes(patients=[patient], identifiers_removed=removed, refresh_patients=touched)


apply.register(PatientRegistered, _snapshot)
apply.register(PatientUpdated, _snapshot)


@apply.register
def _linked(event: PatientLinked, state: State) -> Changes:
    patient = state.patients.get(event.patient_id) or PatientState(event.patient_id)
    pair = (event.source_identifier.system, event.source_identifier.value)
    if pair not in patient.identifiers:
        patient = replace(patient, identifiers=(*patient.identifiers, pair))
    return Changes(patients=[patient], refresh_patients={event.patient_id})


@apply.register
def _unlinked(event: PatientUnlinked, state: State) -> Changes:
    patient = state.patients.get(event.patient_id) or PatientState(event.patient_id)
    pair = (event.source_identifier.system, event.source_identifier.value)
    patient = replace(patient, identifiers=tuple(i for i in patient.identifiers if i != pair))
    moved = state.patients.get(event.new_patient_id) or PatientState(event.new_patient_id)
    if pair not in moved.identifiers:
        moved = replace(moved, identifiers=(*moved.identifiers, pair))
    return Changes(
        patients=[patient, moved], refresh_patients={event.patient_id, event.new_patient_id}
    )


@apply.register
def _merged(event: PatientMerged, state: State) -> Changes:
    patient = state.patients.get(event.patient_id) or PatientState(event.patient_id)
    merged = replace(patient, active=False, replaced_by=event.survivor_id)
    return Changes(patients=[merged], refresh_patients={event.patient_id, event.survivor_id})


@apply.register
def _unmerged(event: PatientUnmerged, state: State) -> Changes:
    patient = state.patients.get(event.patient_id) or PatientState(event.patient_id)
    back = replace(patient, active=True, replaced_by=None)
    return Changes(patients=[back], refresh_patients={event.patient_id, event.previous_survivor_id})


@apply.register
def _ehr_created(event: EhrCreated, state: State) -> Changes:
    subject = event.subject
    return Changes(
        ehr_subjects=[
            EhrSubjectSet(
                event.ehr_id,
                subject.namespace if subject else None,
                subject.id if subject else None,
                event.is_queryable,
            )
        ]
    )


@apply.register
def _ehr_status(event: EhrStatusUpdated, state: State) -> Changes:
    subject = event.subject
    return Changes(
        ehr_subjects=[
            EhrSubjectSet(
                event.ehr_id,
                subject.namespace if subject else None,
                subject.id if subject else None,
                event.is_queryable,
            )
        ]
    )


@apply.register
def _committed(event: CompositionCommitted, state: State) -> Changes:
    voi = versioned_object_id(event.version_uid)
    changes = Changes(
        compositions=[CompositionStored(event.ehr_id, voi, event.version_uid, event.composition)]
    )
    if event.subject is not None:  # the event names the subject: no need for EhrCreated first
        changes.ehr_subjects.append(
            EhrSubjectSet(event.ehr_id, event.subject.namespace, event.subject.id)
        )
    return changes


@apply.register
def _deleted(event: CompositionDeleted, state: State) -> Changes:
    voi = versioned_object_id(event.version_uid)
    return Changes(compositions=[CompositionStored(event.ehr_id, voi, event.version_uid, None)])


@apply.register
def _erased(event: EhrErased, state: State) -> Changes:
    return Changes(erased_ehrs=[event.ehr_id])


@apply.register
def _release(event: ReleaseActivated, state: State) -> Changes:
    return Changes(terminology=[TerminologyChanged(release_label=event.label)])


@apply.register
def _concept_map(event: ConceptMapChanged, state: State) -> Changes:
    if event.all_changed:
        return Changes(terminology=[TerminologyChanged(system=event.source_system)])
    return Changes(
        terminology=[TerminologyChanged(event.source_system, tuple(event.changed_source_codes))]
    )
