"""Apply events to a generation schema: the thin writer around the pure fold.

Per batch: fold each event into changes and store them; then, once for the batch,
recompute the persons touched, re-resolve the EHRs touched and re-materialise the
compositions touched (clinical data of an unknown patient stays held in ``composition``
until its patient is known). Everything runs in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hygie_contracts import Event
from hygie_contracts.ehr import CompositionCommitted, CompositionDeleted
from hygie_contracts.omop import OmopRowChanged
from hygie_platform.envelope import Envelope
from hygie_platform.uow import UnitOfWork

from ..adapters.cdm import PRIMARY_KEYS
from ..adapters.store import Store
from ..adapters.translator import Translator
from ..domain import fold
from ..domain.mapper import codes_of, map_composition
from ..domain.mappings import Mapping as ArchetypeMapping
from ..domain.person import death_row, person_row, survivor_of

__all__ = ["Projector"]

_VISIT_LINKED = {"condition_occurrence", "drug_exposure", "procedure_occurrence",
                 "measurement", "observation"}  # fmt: skip


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

    async def apply(self, uow: UnitOfWork, items: Sequence[tuple[Envelope, Event]]) -> None:
        """Apply events in order, then materialise what they touched."""
        store = Store(uow.connection, self.schema)
        dirty = _Dirty()
        for envelope, event in items:
            state = fold.State(patients=await store.patients(_patient_ids(event)))
            changes = fold.apply(event, state)
            await self._store(store, envelope, event, changes, dirty)
        await self._materialise(uow, store, dirty)

    async def _store(
        self, store: Store, envelope: Envelope, event: Event, changes: fold.Changes, dirty: _Dirty
    ) -> None:
        for i, patient in enumerate(changes.patients):
            await store.save_patient(patient, changes.identifiers_removed if i == 0 else ())
        dirty.patients |= changes.refresh_patients
        for subject in changes.ehr_subjects:
            await store.set_ehr_subject(subject.ehr_id, subject.namespace, subject.subject_id)
            dirty.ehrs.add(subject.ehr_id)
        for comp in changes.compositions:
            if isinstance(event, CompositionCommitted | CompositionDeleted) and (
                await store.ehr(comp.ehr_id) is None
            ):
                await store.set_ehr_subject(comp.ehr_id, None, None)
                dirty.ehrs.add(comp.ehr_id)
            await store.store_composition(
                comp.versioned_object_id, comp.ehr_id, comp.version_uid, envelope.id,
                comp.composition,
            )  # fmt: skip
            dirty.compositions.add(comp.versioned_object_id)
        for term in changes.terminology:
            codes = None if term.system is None and not term.codes else list(term.codes) or None
            await store.forget_concepts(codes)
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

    async def _materialise(self, uow: UnitOfWork, store: Store, dirty: _Dirty) -> None:
        for patient_id in sorted(dirty.patients):
            await self._refresh_person(uow, store, patient_id, dirty)
        for ehr_id in sorted(dirty.ehrs):
            ehr = await store.ehr(ehr_id)
            if ehr is None:
                continue
            person = await self._resolve(store, ehr[0], ehr[1])
            if person != ehr[2]:
                await store.set_ehr_person(ehr_id, person)
                dirty.compositions.update(await store.compositions_of(ehr_id))
        for voi in sorted(dirty.compositions):
            await self._composition(uow, store, voi, dirty)
        for person_id in sorted(dirty.persons):
            await self._observation_period(uow, store, person_id)

    async def _refresh_person(
        self, uow: UnitOfWork, store: Store, patient_id: UUID, dirty: _Dirty
    ) -> None:
        patient = (await store.patients([patient_id])).get(patient_id)
        if patient is None:
            return
        person_id = (await store.ids("person", [str(patient_id)]))[str(patient_id)]
        row = person_row(patient, person_id=person_id, key=self.key)
        await self._put(uow, store, "person", person_id, person_id, row)
        await self._put(
            uow, store, "death", person_id, person_id, death_row(patient, person_id=person_id)
        )
        subjects = [str(patient_id), *(v for _, v in patient.identifiers)]
        dirty.ehrs.update(await store.ehrs_of([person_id], subjects))
        dirty.persons.add(person_id)

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

    async def _concepts(self, store: Store, wanted: set[tuple[str, str]]) -> dict[Any, Any]:
        cached = await store.cached_concepts(wanted)
        missing = wanted - cached.keys()
        if missing:
            found = await self.translator.translate(missing)
            await store.cache_concepts(found)
            cached.update(found)
        return cached

    async def _composition(self, uow: UnitOfWork, store: Store, voi: str, dirty: _Dirty) -> None:
        stored = await store.composition(voi)
        old = await store.lineage_of(voi)
        person_id = None
        if stored is not None and stored[3] is not None:
            ehr = await store.ehr(stored[0])
            person_id = ehr[2] if ehr else None
        if stored is None or stored[3] is None or person_id is None:
            await self._remove(uow, store, old)
            await store.replace_lineage(voi, [])
            if stored is None or stored[3] is None:
                await store.replace_problems(voi, [])
            dirty.persons.update(p for _, _, p in old)
            return
        ehr_id, version_uid, event_id, body = stored
        concepts = await self._concepts(store, codes_of(body, self.mappings))
        mapped = map_composition(body, self.mappings, concepts.get, key=voi)
        by_table: dict[str, list[Any]] = {}
        for row in mapped.rows:
            by_table.setdefault(row.table, []).append(row)
        ids: dict[str, int] = {}
        for table, rows in by_table.items():
            ids.update(await store.ids(table, [r.key for r in rows]))
        visits = by_table.get("visit_occurrence", [])
        visit_id = ids[visits[0].key] if visits else None
        lineage, kept = [], set()
        for table, rows in by_table.items():
            written = []
            for row in rows:
                row_id = ids[row.key]
                values = {**row.columns, PRIMARY_KEYS[table]: row_id, "person_id": person_id}
                if table in _VISIT_LINKED and visit_id is not None:
                    values.setdefault("visit_occurrence_id", visit_id)
                written.append(values)
                kept.add((table, row_id))
                lineage.append({
                    "omop_table": table, "omop_id": row_id, "person_id": person_id,
                    "ehr_id": ehr_id, "versioned_object_id": voi, "version_uid": version_uid,
                    "archetype_path": row.path, "event_id": event_id,
                })  # fmt: skip
                self._announce(uow, table, row_id, person_id, "upsert", values)
            await store.upsert(table, written)
        await self._remove(uow, store, [o for o in old if (o[0], o[1]) not in kept])
        await store.replace_lineage(voi, lineage)
        await store.replace_problems(
            voi,
            [
                {"voi": voi, "n": n, "kind": p.kind, "archetype_id": p.archetype_id,
                 "path": p.path, "detail": p.detail, "system": p.system, "code": p.code}
                for n, p in enumerate(mapped.problems)
            ],
        )  # fmt: skip
        dirty.persons.add(person_id)
        dirty.persons.update(p for _, _, p in old)

    async def _remove(
        self, uow: UnitOfWork, store: Store, rows: list[tuple[str, int, int]]
    ) -> None:
        by_table: dict[str, list[int]] = {}
        for table, row_id, person_id in rows:
            by_table.setdefault(table, []).append(row_id)
            self._announce(uow, table, row_id, person_id, "delete", {PRIMARY_KEYS[table]: row_id})
        for table, row_ids in by_table.items():
            await store.delete_rows(table, row_ids)

    async def _observation_period(self, uow: UnitOfWork, store: Store, person_id: int) -> None:
        """One period per person from the first to the last clinical event (EHR type)."""
        period_id = (await store.ids("observation_period", [str(person_id)]))[str(person_id)]
        span = (
            await store.event_span(person_id) if await store.exists("person", person_id) else None
        )
        row = None
        if span is not None:
            row = {
                "observation_period_id": period_id, "person_id": person_id,
                "observation_period_start_date": span[0], "observation_period_end_date": span[1],
                "period_type_concept_id": 32817,
            }  # fmt: skip
        await self._put(uow, store, "observation_period", period_id, person_id, row)
