"""Use case: load many identities at once (``hygie patients load``), with the rules and
events of one-by-one registration but set-based work.

Per batch, in one unit of work: validation (a record breaking a rule is reported and
not stored, the others are); identifiers already bound (or repeated in the batch) go
through ``record_identity`` as updates; the others are placed by ``bulk_place``: blocked
by one join of their keys (domain.blocking) against the records of others in the index
and by hash tables for the load's own records (its earlier batches and the earlier
records of the batch), every pair scored, then decided in file order with the steps of
the online path (``decide_scored`` ≡ ``decide_match``) — so a record links to one
registered before it, in the index or in the file. Golden records, source records,
identifiers and review items are written with COPY; events are journaled as one by one
would (``registered`` once per new patient with its final traits, ``linked`` per source
record, ``review_requested`` per review item, ``updated`` for existing patients that
gained a source).

The records and golden records a load writes are kept in memory for its later batches
(``bulk_place.Written``): the index says which of them it no longer holds as written
(changed, moved, inactive: read back then) and which golden records a batch touches (they
are locked, their versions read; a golden record is read back only when its version is
not the one written).

Differences with the online path, by design: no cap on the candidates of a record (the
online path takes the first ``max_candidates``), and the family-name frequency of the
term-frequency adjustment is counted once per batch.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from uuid import UUID

from hygie_contracts.patient import (
    PatientLinked,
    PatientRegistered,
    PatientUpdated,
    ReviewRequested,
)
from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWork

from ..adapters import bulk as store
from ..adapters.codec import golden_snapshot
from ..domain.errors import Issue
from ..domain.golden import GoldenRecord, survive
from ..domain.identity import SourceRecord
from ..domain.validation import validate_record
from .bulk_match import Viewed, default_workers
from .bulk_place import Written, place_records
from .context import IndexContext
from .events import contract_identifier, snapshot_event
from .identity import record_identity

__all__ = ["BulkReport", "load_identities", "paused_gc"]


@dataclass
class BulkReport:
    received: int = 0
    created: int = 0
    updated: int = 0
    new_patients: int = 0
    linked: int = 0
    reviews: int = 0
    rejected: list[tuple[int, str, list[Issue]]] = field(default_factory=list)
    """(position in the input, identifier, issues) of each record not stored."""
    phases: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds per phase of the load (summed over the batches)."""
    phases_cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of this process per phase (PostgreSQL's own work is not in them)."""
    pairs: int = 0
    """Candidate pairs scored."""

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "created": self.created,
            "updated": self.updated,
            "new_patients": self.new_patients,
            "linked": self.linked,
            "reviews": self.reviews,
            "rejected": len(self.rejected),
        }

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - started
            spent = time.process_time() - cpu
            self.phases_cpu[phase] = self.phases_cpu.get(phase, 0.0) + spent


async def load_identities(
    uows: Callable[[], UnitOfWork],
    ctx: IndexContext,
    drafts: Sequence[SourceRecord],
    *,
    by: str | None,
    batch: int = 50_000,
    workers: int | None = None,
) -> BulkReport:
    """Register ``drafts`` (in their order) by batches of ``batch``, one transaction each;
    pairs are scored by ``workers`` processes (default: the cores, at most 2)."""
    with paused_gc():
        return await _load(uows, ctx, drafts, by=by, batch=batch, workers=workers)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while loading: the records are acyclic, and each
    full collection would walk the millions of objects a load holds (seconds per
    100,000 records); what is garbage then is collected after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _load(
    uows: Callable[[], UnitOfWork],
    ctx: IndexContext,
    drafts: Sequence[SourceRecord],
    *,
    by: str | None,
    batch: int,
    workers: int | None,
) -> BulkReport:
    report = BulkReport(received=len(drafts))
    written = Written()
    workers = default_workers() if workers is None else workers
    for start in range(0, len(drafts), batch):
        async with uows() as uow:
            part = drafts[start : start + batch]
            kept = await _load_batch(uow, ctx, part, start, report, written, by=by, workers=workers)
            body_done = time.perf_counter(), time.process_time()
        # The journal rows are written and the transaction committed as the block exits.
        for phases, now in (
            (report.phases, time.perf_counter()),
            (report.phases_cpu, time.process_time()),
        ):
            phases["journal_commit"] = (
                phases.get("journal_commit", 0.0) + now - body_done[phases is report.phases_cpu]
            )
        # Only a committed batch is kept: a failed one raised and left nothing.
        written.add(kept[0], kept[2])
        written.goldens.update(kept[1])
    with report.timed("settle"):
        async with uows() as uow:
            await store.settle(uow.connection)
    return report


async def _load_batch(
    uow: UnitOfWork,
    ctx: IndexContext,
    drafts: Sequence[SourceRecord],
    offset: int,
    report: BulkReport,
    written: Written,
    *,
    by: str | None,
    workers: int,
) -> tuple[dict[UUID, Viewed], dict[UUID, GoldenRecord], list[list[str]]]:
    conn = uow.connection
    today, now = ctx.today(), ctx.now()
    valid: list[tuple[int, SourceRecord]] = []
    with report.timed("validate"):
        for i, draft in enumerate(drafts):
            issues = validate_record(draft, today=today)
            if issues:
                report.rejected.append((offset + i, str(draft.identifier), issues))
            else:
                valid.append((offset + i, draft))
        bound = await store.bound_identifiers(conn, [i for _, d in valid for i in d.identifiers])
    fresh: list[SourceRecord] = []
    later: list[SourceRecord] = []
    seen: set[tuple[str, str]] = set(bound)
    for _, draft in valid:
        keys = {(i.system, i.value) for i in draft.identifiers}
        if keys & seen:
            later.append(draft)  # an update (or a repeat): the one-by-one path decides
        else:
            seen |= keys
            fresh.append(draft)
    placements, views, block_keys = await place_records(
        uow, ctx, fresh, report, written, now=now, workers=workers
    )
    members: dict[UUID, list[SourceRecord]] = defaultdict(list)
    records = [p.record for p in placements]
    for record in records:
        assert record.golden_id is not None
        members[record.golden_id].append(record)
    created = {p.record.golden_id for p in placements if p.creates}
    with report.timed("goldens"):
        new_goldens = [survive(g, members[g]) for g in members if g in created]
    with report.timed("copy"):
        await store.copy_goldens(conn, new_goldens)
        await store.copy_sources(conn, records, block_keys)
    with report.timed("events"):
        for g in new_goldens:
            uow.record(snapshot_event(PatientRegistered, g))
    with report.timed("refresh"):
        batch = {r.id: (r, v) for r, v in zip(records, views, strict=True)}
        refreshed = await _refresh_existing(
            uow, sorted(set(members) - created), written, batch=batch
        )
    reviews = []
    with report.timed("events"):
        for record, place in zip(records, placements, strict=True):
            d = place.decision
            uow.record(
                PatientLinked(
                    patient_id=place.record.golden_id,
                    source_identifier=contract_identifier(record.identifier),
                    method="new" if place.creates else place.method,
                    score=None if place.creates or d.score is None else d.score.weight,
                    by=by,
                )  # type: ignore[arg-type]
            )
            if d.review and d.golden_id is not None and d.score is not None:
                review_id = uuid7()
                reason = d.reason or "review"
                reviews.append(
                    (review_id, record.id, d.golden_id, d.score.weight, d.score.as_dict(), reason)
                )
                uow.record(
                    ReviewRequested(
                        patient_id=place.record.golden_id,
                        review_id=review_id,
                        candidate_id=d.golden_id,
                        score=d.score.weight,
                        reason=reason,
                        source_identifier=contract_identifier(record.identifier),
                    )
                )
    with report.timed("copy"):
        await store.copy_reviews(conn, reviews)
    report.reviews += len(reviews)
    report.created += len(records)
    report.new_patients += len(new_goldens)
    report.linked += sum(not p.creates for p in placements)
    with report.timed("updates"):
        for draft in later:
            result = await record_identity(uow, ctx, draft, by=by)
            report.updated += not result.created
            report.created += result.created
    # Kept as written: a later batch checks the version the index holds before using one.
    return batch, {g.id: g for g in (*new_goldens, *refreshed)}, block_keys


async def _refresh_existing(
    uow: UnitOfWork,
    golden_ids: Sequence[UUID],
    written: Written,
    *,
    batch: dict[UUID, Viewed],
) -> list[GoldenRecord]:
    """``refresh_golden`` for many patients at once: locked in id order, rebuilt by the
    same survivorship from their sources (read back only when not as this load wrote
    them), written in one statement, ``updated`` journaled for those that changed.
    Returns the golden records as they now are."""
    if not golden_ids:
        return []
    conn = uow.connection
    versions = await store.lock_golden_versions(conn, golden_ids)
    olds = {
        g.id: g
        for g in (written.goldens.get(gid) for gid in golden_ids)
        if g is not None and versions.get(g.id) == g.version
    }
    missing = [gid for gid in golden_ids if gid in versions and gid not in olds]
    olds.update({g.id: g for g in await store.goldens_by_id(conn, missing)})
    layout = await store.source_versions_of_goldens(conn, golden_ids)
    held: dict[UUID, SourceRecord] = {}
    for gid, sid, ver in layout:
        if sid in batch:
            held[sid] = batch[sid][0]
        elif (known := written.source(sid, ver, gid)) is not None:
            held[sid] = known[0]
    # Read back: the sources not written by this load, or changed since.
    held.update(await store.sources_by_id(conn, [s for _, s, _ in layout if s not in held]))
    sources: dict[UUID, list[SourceRecord]] = defaultdict(list)
    for gid, sid, _ in layout:
        sources[gid].append(held[sid])
    changed = []
    for gid in golden_ids:
        old = olds.get(gid)
        if old is None:
            continue
        new = survive(
            old.id,
            sources.get(old.id, []),
            record_of_truth=old.record_of_truth,
            version=old.version,
            active=old.active,
            replaced_by=old.replaced_by,
        )
        if golden_snapshot(new) != golden_snapshot(old) or new.status != old.status:
            changed.append(replace(new, version=old.version + 1))
    await store.save_goldens(conn, changed)
    for g in changed:
        uow.record(snapshot_event(PatientUpdated, g))
    return changed
