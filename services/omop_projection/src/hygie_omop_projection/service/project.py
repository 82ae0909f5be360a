"""Apply events to a generation schema: the thin writer around the pure fold.

Per batch: fold each event into changes and store them; then, once for the batch,
recompute the persons touched, re-resolve the EHRs touched and re-materialise the
compositions touched (clinical data of an unknown patient stays held in ``composition``
until its patient is known). Everything runs in the caller's unit of work.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any
from uuid import UUID

from hygie_contracts import Event
from hygie_contracts.ehr import (
    CompositionCommitted,
    CompositionDeleted,
    EhrCreated,
    EhrStatusUpdated,
)
from hygie_contracts.omop import OmopRowChanged
from hygie_platform.envelope import Envelope
from hygie_platform.uow import UnitOfWork

from ..adapters import writers
from ..adapters.cdm import PRIMARY_KEYS
from ..adapters.erasure import erase_ehrs
from ..adapters.store import Store
from ..adapters.translator import Translator
from ..domain import fold
from ..domain.mapper import Concept, MappedComposition
from ..domain.mappings import Mapping as ArchetypeMapping
from ..domain.person import PatientState, death_row, person_row, survivor_of
from .materialise import map_one, materialise, observation_periods
from .phases import Phases

__all__ = ["Premapped", "Projector"]

#: voi -> (version uid, translations epoch, mapped rows, codes not cached when mapped)
Premapped = dict[str, tuple[str, int, MappedComposition, set[tuple[str, str]]]]


#: events of one EHR only: a batch of them shares the generation with other writers
_CLINICAL = (CompositionCommitted, CompositionDeleted, EhrCreated, EhrStatusUpdated)
_PATIENT_FIELDS = ("patient_id", "survivor_id", "new_patient_id", "previous_survivor_id")


@functools.cache
def _patient_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of an event class naming a patient (none for clinical events)."""
    return tuple(name for name in _PATIENT_FIELDS if name in cls.model_fields)


def _patient_ids(event: Event) -> set[UUID]:
    return {
        value
        for name in _patient_fields(type(event))
        if isinstance(value := getattr(event, name, None), UUID)
    }


@dataclass
class _Dirty:
    patients: set[UUID] = field(default_factory=set)
    ehrs: set[UUID] = field(default_factory=set)
    compositions: set[str] = field(default_factory=set)
    persons: set[int] = field(default_factory=set)
    """persons whose observation period is recomputed from their rows"""
    spans: dict[int, tuple[date, date]] = field(default_factory=dict)
    """first and last dates of rows added, per person (their periods are widened)"""


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
    concepts_epoch: int = 0
    """incremented whenever cached translations are dropped (premapped results then stale)"""
    phases: Phases = field(default_factory=Phases)
    """wall time per phase (``/omop/status``)"""
    seen: set[int] | None = None
    """hashes of the compositions the generation may hold, tracked from its first batch
    while it is rebuilt (None: unknown, every composition's previous rows are looked up):
    a composition never seen has no rows, lineage or problems to delete or read"""
    shared: bool = False
    """one of several writers building the generation (``entrypoints.parallel``): a batch
    of clinical events only shares the generation's writer lock, any other batch (patients,
    terminology, erasures: they reach across EHRs) holds it alone; persons are locked
    before their rows are written; dropped translations are announced to the other
    writers through the generation's ``concept_epoch`` sequence"""
    _epoch: int = 0

    def premap(self, events: Sequence[Event]) -> Premapped:
        """Map the committed compositions of a batch ahead of its transaction (pure; run in
        a thread while the previous batch is written): voi -> (version uid, epoch, rows,
        codes not cached yet). ``apply`` uses a result only if its version and the epoch of
        the translations still hold."""
        epoch = self.concepts_epoch
        out: Premapped = {}
        for event in events:
            if isinstance(event, CompositionCommitted):
                voi = fold.versioned_object_id(event.version_uid)
                mapped, misses = map_one(event.composition, voi, self.mappings, self.concepts)
                out[voi] = (event.version_uid, epoch, mapped, misses)
        return out

    async def apply(
        self, uow: UnitOfWork, items: Sequence[tuple[Envelope, Event]], *,
        premapped: Premapped | None = None,
    ) -> None:  # fmt: skip
        """Apply events in order, then materialise what they touched."""
        started = time.perf_counter()
        store = Store(uow.connection, self.schema)
        if not self.publish:  # a generation being built: a crash loses the last batches,
            # which are read again from their checkpoint (in the same transactions)
            await writers.asynchronous_commit(uow.connection)
        if self.shared:
            alone = not all(isinstance(event, _CLINICAL) for _, event in items)
            epoch = await writers.writer_lock(
                uow.connection, self.schema, self.generation, alone=alone
            )
            if epoch != self._epoch:  # another writer dropped cached translations
                self._epoch = epoch
                self.concepts.clear()
                self.concepts_epoch += 1
        dirty = _Dirty()
        subjects: dict[UUID, tuple[str | None, str | None, bool | None]] = {}
        compositions: dict[str, tuple[UUID, str, UUID, Any]] = {}
        named = [_patient_ids(event) for _, event in items]
        # the patients the batch names, read once; the fold's results kept in memory
        patients = await store.patients(set().union(*named)) if any(named) else {}
        saved: dict[UUID, PatientState] = {}
        for (envelope, event), ids in zip(items, named, strict=True):
            state = fold.State(patients={i: patients[i] for i in ids if i in patients})
            changes = fold.apply(event, state)
            for patient in changes.patients:
                patients[patient.patient_id] = patient
                saved.pop(patient.patient_id, None)  # order of the last change
                saved[patient.patient_id] = patient
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
            if changes.erased_ehrs:
                await self._erase(uow, store, changes.erased_ehrs, dirty, subjects, compositions)
            if changes.terminology or changes.refresh_patients:
                await self._store(store, changes, dirty)
        # patient, EHR and composition events are written in bulk, once per batch
        tick = self.phases.ticker(started)
        tick("state: fold", len(items))
        await store.save_patients(list(saved.values()))
        tick("state: patients", len(saved))
        changed, ehr_persons = await store.sync_ehrs(
            subjects, {c[0] for c in compositions.values()}
        )
        dirty.ehrs |= changed
        tick("state: ehrs", len(subjects))
        fresh: set[str] = set()
        if self.seen is not None:  # added before the commit: a superset of what is stored
            fresh = {v for v in compositions if hash(v) not in self.seen}
            self.seen.update(hash(v) for v in compositions)
        await store.store_compositions(
            compositions, existing=[v for v in compositions if v not in fresh]
        )
        tick("state: compositions", len(compositions))
        dirty.compositions |= compositions.keys()
        await self._materialise(
            uow, store, dirty, compositions, premapped or {}, fresh, ehr_persons
        )

    async def _erase(
        self, uow: UnitOfWork, store: Store, ehr_ids: list[UUID], dirty: _Dirty,
        subjects: dict[UUID, Any], compositions: dict[str, tuple[UUID, str, UUID, Any]],
    ) -> None:  # fmt: skip
        """Everything projected from these EHRs goes now, and what this batch gathered for
        them before their erasure is dropped; a death row a composition recorded gives way
        to the patient index's date; the persons' periods are recomputed."""
        erased = set(ehr_ids)
        # what the batch holds for them so far, written before the erasure reads the state
        for voi in [v for v, c in compositions.items() if c[0] in erased]:
            del compositions[voi]
            dirty.compositions.discard(voi)
        for ehr_id in erased:
            subjects.pop(ehr_id, None)
        dirty.ehrs -= erased
        removed = await erase_ehrs(store.conn, store.s, sorted(erased))
        deaths: set[int] = set()
        for table, row_id, person_id in removed:
            self._announce(uow, table, row_id, person_id, "delete",
                           {PRIMARY_KEYS[table]: row_id})  # fmt: skip
            dirty.persons.add(person_id)
            if table == "death":
                deaths.add(person_id)
        if deaths:
            back = await store.patients(await store.patients_of_persons(sorted(deaths)))
            ids = await store.ids("person", [str(p) for p in back])
            await self._refresh_deaths(uow, store, back, ids)

    async def _store(self, store: Store, changes: fold.Changes, dirty: _Dirty) -> None:
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
            # after the entries are gone: a premap that saw the old epoch may have read them
            self.concepts_epoch += 1
            if self.shared:
                self._epoch = await writers.bump_concept_epoch(store.conn, self.schema)
            dirty.compositions.update(await store.compositions_with_problems(codes))

    # -- materialisation --------------------------------------------------------------
    async def _resolve_many(
        self, store: Store, subjects: Mapping[UUID, tuple[str | None, str | None]]
    ) -> dict[UUID, int | None]:
        """The person of each EHR's subject: a source identifier or the golden id, followed
        through merges; None while no person row can exist (unknown, or no birth date)."""
        pairs = {(ns or "", sid) for ns, sid in subjects.values() if sid is not None}
        by_identifier = await store.patients_by_identifiers(pairs)
        start: dict[UUID, UUID] = {}
        for ehr_id, (ns, sid) in subjects.items():
            if sid is None:
                continue
            found = by_identifier.get((ns or "", sid))
            if found is None:
                with contextlib.suppress(ValueError):
                    found = UUID(sid)
            if found is not None:
                start[ehr_id] = found
        known: dict[UUID, PatientState] = {}
        tried: set[UUID] = set()
        wanted = set(start.values())
        while wanted:  # the merge chains, one link at a time for every EHR at once
            tried |= wanted
            known.update(await store.patients(wanted))
            wanted = {p.replaced_by for p in known.values() if p.replaced_by is not None} - tried
        survivors: dict[UUID, UUID] = {}
        for ehr_id, patient_id in start.items():
            chain: dict[UUID, UUID | None] = {}
            current: UUID | None = patient_id
            held = False
            while current is not None and current not in chain:
                found_state = known.get(current)
                if found_state is None or (
                    found_state.replaced_by is None and found_state.birth_date is None
                ):
                    held = True  # no person row can exist yet: hold the data
                    break
                chain[current] = found_state.replaced_by
                current = found_state.replaced_by
            if not held:
                survivors[ehr_id] = survivor_of(patient_id, chain)
        ids = await store.ids("person", sorted({str(s) for s in survivors.values()}))
        return {e: ids[str(survivors[e])] if e in survivors else None for e in subjects}

    async def _materialise(
        self, uow: UnitOfWork, store: Store, dirty: _Dirty,
        known: Mapping[str, tuple[UUID, str, UUID, Any]], premapped: Premapped,
        fresh: set[str] | None = None, ehr_persons: dict[UUID, int | None] | None = None,
    ) -> None:  # fmt: skip
        started = time.perf_counter()
        ehr_persons = ehr_persons or {}
        if dirty.patients:
            await self._refresh_persons(uow, store, sorted(dirty.patients), dirty)
        if dirty.ehrs:
            ehrs = await store.ehrs(sorted(dirty.ehrs))
            # an EHR that is not queryable stays out of the research view (openEHR EHR_STATUS)
            persons = await self._resolve_many(
                store, {e: (v[0], v[1]) for e, v in ehrs.items() if v[3]}
            )
            moved = {e: persons.get(e) for e, v in ehrs.items() if persons.get(e) != v[2]}
            if moved:
                await store.set_ehr_persons(moved)
                ehr_persons.update(moved)
                dirty.compositions.update(await store.compositions_of_ehrs(sorted(moved)))
        self.phases.add("persons", time.perf_counter() - started)
        announce = partial(self._announce, uow)
        if dirty.compositions:
            done = await materialise(
                store, sorted(dirty.compositions), mappings=self.mappings,
                translator=self.translator, memory=self.concepts, announce=announce,
                known=known, phases=self.phases, fresh=fresh,
                person_lock=self.generation if self.shared else None, ehr_persons=ehr_persons,
                premapped={v: (p[0], p[2], p[3]) for v, p in premapped.items()
                           if p[1] == self.concepts_epoch},
            )  # fmt: skip
            dirty.persons |= done.recompute
            for person, (first, last) in done.spans.items():
                span = dirty.spans.get(person)
                dirty.spans[person] = (
                    (first, last) if span is None else (min(span[0], first), max(span[1], last))
                )
            # the composition that recorded a death is gone: the patient index's date returns
            if done.deaths_removed:
                back = await store.patients(
                    await store.patients_of_persons(sorted(done.deaths_removed))
                )
                ids = await store.ids("person", [str(p) for p in back])
                await self._refresh_deaths(uow, store, back, ids)
        with self.phases.timed("periods"):
            await observation_periods(store, dirty.persons, announce=announce, spans=dirty.spans)

    async def _refresh_persons(
        self, uow: UnitOfWork, store: Store, patient_ids: Sequence[UUID], dirty: _Dirty
    ) -> None:
        """Person and death rows of these patients, and the EHRs to re-resolve."""
        patients = await store.patients(patient_ids)
        ids = await store.ids("person", [str(p) for p in patients])
        rows = {ids[str(p)]: person_row(s, person_id=ids[str(p)], key=self.key)
                for p, s in patients.items()}  # fmt: skip
        await self._put_many(uow, store, "person", rows)
        await self._refresh_deaths(uow, store, patients, ids)
        subjects = {str(p) for p in patients} | {
            v for s in patients.values() for _, v in s.identifiers
        }
        dirty.ehrs.update(await store.ehrs_of(sorted(ids.values()), sorted(subjects)))
        dirty.persons.update(ids.values())

    async def _refresh_deaths(
        self, uow: UnitOfWork, store: Store, patients: Mapping[UUID, PatientState],
        ids: Mapping[str, int],
    ) -> None:  # fmt: skip
        """Death rows from the patient index, unless a composition recorded the death."""
        recorded = await store.recorded_deaths(sorted(ids.values()))
        rows = {ids[str(p)]: death_row(s, person_id=ids[str(p)])
                for p, s in patients.items() if ids[str(p)] not in recorded}  # fmt: skip
        await self._put_many(uow, store, "death", rows)

    async def _put_many(
        self, uow: UnitOfWork, store: Store, table: str, rows: Mapping[int, dict[str, Any] | None]
    ) -> None:
        """Write the rows (person, death: keyed by person id), remove those given as None
        that exist, and announce both."""
        written = [row for row in rows.values() if row is not None]
        await store.upsert(table, written)
        for person_id, row in rows.items():
            if row is not None:
                self._announce(uow, table, person_id, person_id, "upsert", row)
        gone = sorted(await store.existing(table, [i for i, r in rows.items() if r is None]))
        await store.delete_rows(table, gone)
        for person_id in gone:
            self._announce(uow, table, person_id, person_id, "delete",
                           {PRIMARY_KEYS[table]: person_id})  # fmt: skip

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
