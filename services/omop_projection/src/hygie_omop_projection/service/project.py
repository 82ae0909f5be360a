"""Apply events to a generation schema: the thin writer around the pure fold.

Per batch: fold each event into changes and store them; then, once for the batch,
recompute the persons touched, re-resolve the EHRs touched and re-materialise the
compositions touched (clinical data of an unknown patient stays held in ``composition``
until its patient is known). Everything runs in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

from hygie_contracts import Event
from hygie_contracts.omop import OmopRowChanged
from hygie_platform.envelope import Envelope
from hygie_platform.uow import UnitOfWork

from ..adapters.cdm import PRIMARY_KEYS
from ..adapters.store import Store
from ..adapters.translator import Translator
from ..domain import fold
from ..domain.mapper import Concept
from ..domain.mappings import Mapping as ArchetypeMapping
from ..domain.person import PatientState, death_row, person_row, survivor_of
from .materialise import materialise, observation_periods

__all__ = ["Projector"]


def _patient_ids(event: Event) -> set[UUID]:
    return {
        value
        for name in ("patient_id", "survivor_id", "new_patient_id", "previous_survivor_id")
        if isinstance(value := getattr(event, name, None), UUID)
    }


@dataclass
class _Dirty:
    patients: set[UUID] = field(default_factory=set)
    ehrs: set[UUID] = field(default_factory=set)
    compositions: set[str] = field(default_factory=set)
    persons: set[int] = field(default_factory=set)


@dataclass
class Projector:
    """Writes one generation; ``publish`` journals the change stream (the serving one)."""

    schema: str
    generation: int
    mappings: Mapping[str, ArchetypeMapping]
    translator: Translator
    key: bytes
    publish: bool = True
    concepts: dict[tuple[str, str], Concept] = field(default_factory=dict)
    """in-memory cache of translations (in front of the ``concept_cache`` table)"""
    release_activated: bool = False
    """a vocabulary release was activated since the flag was last cleared"""

    async def apply(self, uow: UnitOfWork, items: Sequence[tuple[Envelope, Event]]) -> None:
        """Apply events in order, then materialise what they touched."""
        store = Store(uow.connection, self.schema)
        dirty = _Dirty()
        subjects: dict[UUID, tuple[str | None, str | None, bool | None]] = {}
        compositions: dict[str, tuple[UUID, str, UUID, Any]] = {}
        for envelope, event in items:
            ids = _patient_ids(event)
            state = fold.State(patients=await store.patients(ids) if ids else {})
            changes = fold.apply(event, state)
            for subject in changes.ehr_subjects:
                before = subjects.get(subject.ehr_id)
                queryable = subject.queryable
                if queryable is None and before is not None:
                    queryable = before[2]
                subjects[subject.ehr_id] = (subject.namespace, subject.subject_id, queryable)
            for comp in changes.compositions:
                compositions[comp.versioned_object_id] = (
                    comp.ehr_id,
                    comp.version_uid,
                    envelope.id,
                    comp.composition,
                )
            await self._store(store, changes, dirty)
        # EHR and composition events are written in bulk, once per batch (last one wins)
        dirty.ehrs |= await store.set_ehr_subjects(subjects)
        dirty.ehrs |= await store.ensure_ehrs({c[0] for c in compositions.values()})
        await store.store_compositions(compositions)
        dirty.compositions |= compositions.keys()
        await self._materialise(uow, store, dirty, compositions)

    async def _store(self, store: Store, changes: fold.Changes, dirty: _Dirty) -> None:
        for i, patient in enumerate(changes.patients):
            await store.save_patient(patient, changes.identifiers_removed if i == 0 else ())
        dirty.patients |= changes.refresh_patients
        for term in changes.terminology:
            if term.release_label is not None:
                self.release_activated = True  # every mapping may change: a rebuild follows
                await store.set_vocabulary_version(term.release_label)
            codes = None if term.system is None and not term.codes else list(term.codes) or None
            await store.forget_concepts(codes)
            if codes is None:
                self.concepts.clear()
            else:
                for pair in [p for p in self.concepts if p[1] in codes]:
                    del self.concepts[pair]
            dirty.compositions.update(await store.compositions_with_problems(codes))

    # -- materialisation --------------------------------------------------------------
    async def _resolve(self, store: Store, namespace: str | None, sid: str | None) -> int | None:
        """The person of an EHR subject: a source identifier or the golden id, after merges."""
        if sid is None:
            return None
        patient_id = await store.patient_by_identifier(namespace or "", sid)
        if patient_id is None:
            try:
                patient_id = UUID(sid)
            except ValueError:
                return None
        chain: dict[UUID, UUID | None] = {}
        current: UUID | None = patient_id
        while current is not None and current not in chain:
            found = (await store.patients([current])).get(current)
            if found is None:
                return None
            chain[current] = found.replaced_by
            if found.replaced_by is None and found.birth_date is None:
                return None  # no person row can exist yet: hold the data
            current = found.replaced_by
        survivor = survivor_of(patient_id, chain)
        return (await store.ids("person", [str(survivor)]))[str(survivor)]

    async def _materialise(
        self, uow: UnitOfWork, store: Store, dirty: _Dirty,
        known: Mapping[str, tuple[UUID, str, UUID, Any]],
    ) -> None:  # fmt: skip
        for patient_id in sorted(dirty.patients):
            await self._refresh_person(uow, store, patient_id, dirty)
        for ehr_id in sorted(dirty.ehrs):
            ehr = await store.ehr(ehr_id)
            if ehr is None:
                continue
            # an EHR that is not queryable stays out of the research view (openEHR EHR_STATUS)
            person = await self._resolve(store, ehr[0], ehr[1]) if ehr[3] else None
            if person != ehr[2]:
                await store.set_ehr_person(ehr_id, person)
                dirty.compositions.update(await store.compositions_of(ehr_id))
        announce = partial(self._announce, uow)
        if dirty.compositions:
            touched, deaths_removed = await materialise(
                store, sorted(dirty.compositions), mappings=self.mappings,
                translator=self.translator, memory=self.concepts, announce=announce,
                known=known,
            )  # fmt: skip
            dirty.persons |= touched
            # the composition that recorded a death is gone: the patient index's date returns
            for patient_id in await store.patients_of_persons(sorted(deaths_removed)):
                await self._refresh_death(uow, store, patient_id)
        await observation_periods(store, dirty.persons, announce=announce)

    async def _refresh_person(
        self, uow: UnitOfWork, store: Store, patient_id: UUID, dirty: _Dirty
    ) -> None:
        patient = (await store.patients([patient_id])).get(patient_id)
        if patient is None:
            return
        person_id = (await store.ids("person", [str(patient_id)]))[str(patient_id)]
        row = person_row(patient, person_id=person_id, key=self.key)
        await self._put(uow, store, "person", person_id, person_id, row)
        await self._refresh_death(uow, store, patient_id, patient=patient, person_id=person_id)
        subjects = [str(patient_id), *(v for _, v in patient.identifiers)]
        dirty.ehrs.update(await store.ehrs_of([person_id], subjects))
        dirty.persons.add(person_id)

    async def _refresh_death(
        self, uow: UnitOfWork, store: Store, patient_id: UUID, *,
        patient: PatientState | None = None, person_id: int | None = None,
    ) -> None:  # fmt: skip
        """The death row from the patient index, unless a composition recorded the death."""
        if patient is None:
            patient = (await store.patients([patient_id])).get(patient_id)
            if patient is None:
                return
        if person_id is None:
            person_id = (await store.ids("person", [str(patient_id)]))[str(patient_id)]
        if person_id in await store.recorded_deaths([person_id]):
            return
        row = death_row(patient, person_id=person_id)
        await self._put(uow, store, "death", person_id, person_id, row)

    async def _put(
        self, uow: UnitOfWork, store: Store, table: str, row_id: int, person_id: int,
        row: dict[str, Any] | None,
    ) -> None:  # fmt: skip
        """Write or remove one row (person, death, observation_period) and announce it."""
        if row is not None:
            await store.upsert(table, [row])
            self._announce(uow, table, row_id, person_id, "upsert", row)
        elif await store.exists(table, row_id):
            await store.delete_rows(table, [row_id])
            self._announce(uow, table, row_id, person_id, "delete", {PRIMARY_KEYS[table]: row_id})

    def _announce(
        self, uow: UnitOfWork, table: str, row_id: int, person_id: int, op: str, row: dict[str, Any]
    ) -> None:
        if self.publish:
            uow.record(
                OmopRowChanged(
                    table=table, row_id=row_id, person_id=person_id, op=op,  # type: ignore[arg-type]
                    row={k: v for k, v in row.items() if v is not None}, generation=self.generation,
                )
            )  # fmt: skip
