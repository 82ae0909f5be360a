"""Use case: load many identities at once (``hygie patients load``), with the rules and
events of one-by-one registration but set-based work.

Per batch, in one unit of work: validation (a record breaking a rule is reported and
not stored, the others are); identifiers already bound (or repeated in the batch) go
through ``record_identity`` as updates; the others are blocked by one join of their
blocking keys (domain.blocking) against the index and by a hash table of the keys of
the earlier records of the batch, then decided in file order with the same steps as
the online path (``decide_with_views`` ≡ ``decide_match``) — so a record links to one
registered before it, in the index or in the file. Golden records, source records,
identifiers and review items are written with COPY; events are journaled as one by one
would (``registered`` once per new patient with its final traits, ``linked`` per source
record, ``review_requested`` per review item, ``updated`` for existing patients that
gained a source).

The records and golden records a load writes are kept in memory for its later batches
(``_Written``): the index still says which of them are candidates (the join returns the
id, version and golden record of each) and which golden records a batch touches (they
are locked, their versions read), and a row is read back only when the index holds
another version of it than the one written (a concurrent update).

Differences with the online path, by design: no cap on the candidates of a record (the
online path takes the first ``max_candidates``), and the family-name frequency of the
term-frequency adjustment is counted once per batch.
"""

from __future__ import annotations

import gc
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
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
from ..adapters.candidates import TF_MIN_POPULATION
from ..adapters.codec import golden_snapshot
from ..domain.blocking import blocking_keys, query_keys
from ..domain.comparators import MatchView
from ..domain.errors import Issue
from ..domain.golden import GoldenRecord, survive
from ..domain.identity import SourceRecord
from ..domain.normalise import phonetic_fr
from ..domain.scoring import Decision, Outcome
from ..domain.validation import validate_record
from .bulk_match import Viewed, decide_scored, default_workers, score_pairs
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


@dataclass
class _Written:
    """What this load wrote in its earlier batches, as written."""

    sources: dict[UUID, Viewed] = field(default_factory=dict)
    goldens: dict[UUID, GoldenRecord] = field(default_factory=dict)
    keys: dict[str, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    """The blocking keys of ``sources``: the load blocks its own records in memory."""

    def add(self, sources: dict[UUID, Viewed], keys: Sequence[list[str]]) -> None:
        self.sources.update(sources)
        for sid, ks in zip(sources, keys, strict=True):
            for k in ks:
                self.keys[k].append(sid)

    def candidates(self, lookups: Sequence[str]) -> list[Viewed]:
        """Records of the load sharing one of these keys (the index holds them as written)."""
        found = {sid for k in lookups for sid in self.keys.get(k, ())}
        return [self.sources[sid] for sid in sorted(found) if sid in self.sources]

    def source(self, sid: UUID, version: int, golden_id: UUID) -> Viewed | None:
        held = self.sources.get(sid)
        if held is None or held[0].version != version or held[0].golden_id != golden_id:
            return None
        return held


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
    written = _Written()
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
    return report


async def _load_batch(
    uow: UnitOfWork,
    ctx: IndexContext,
    drafts: Sequence[SourceRecord],
    offset: int,
    report: BulkReport,
    written: _Written,
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
    placements, views, block_keys = await _match(
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
    written: _Written,
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


@dataclass(frozen=True)
class _Placement:
    record: SourceRecord
    """The new source record, linked to its golden record."""
    decision: Decision
    method: str
    creates: bool
    """The record starts a new golden record."""


async def _match(
    uow: UnitOfWork,
    ctx: IndexContext,
    records: Sequence[SourceRecord],
    report: BulkReport,
    written: _Written,
    *,
    now: datetime,
    workers: int,
) -> tuple[list[_Placement], list[MatchView], list[list[str]]]:
    """Where each record goes, decided in order (a record may join one placed before),
    and the view and blocking keys of each."""
    conn = uow.connection
    with report.timed("keys"):
        views = [MatchView(r) for r in records]
        own = [blocking_keys(r, v) for r, v in zip(records, views, strict=True)]
        lookups = [
            query_keys(r, v, own=keys) for r, v, keys in zip(records, views, own, strict=True)
        ]
    with report.timed("block"):
        outer, stale = await store.candidate_pairs(
            conn,
            [(i, k) for i, keys in enumerate(lookups) for k in keys],
            [(sid, r.version, r.golden_id) for sid, (r, _) in written.sources.items()],
        )
        for sid in stale:  # changed since: read back from the index when a candidate
            written.sources.pop(sid, None)
        mine = [written.candidates(keys) for keys in lookups]
    with report.timed("fetch"):
        trusted = sorted({r.trusted_ins.matricule for r in records if r.trusted_ins})
        holders = await store.ins_holders(conn, trusted)
        cached: dict[UUID, Viewed] = {}
        unknown: set[UUID] = set()
        for sid, ver, gid in [(s, v, g) for _, s, v, g in outer] + [h[2:] for h in holders]:
            if sid not in cached:
                held = written.source(sid, ver, gid)
                if held is None:
                    unknown.add(sid)
                else:
                    cached[sid] = held
        existing = await store.sources_by_id(conn, sorted(unknown))
        cached.update({sid: (s, MatchView(s)) for sid, s in existing.items()})
        known: dict[int, list[Viewed]] = defaultdict(list)
        for a, sid, _, _ in outer:
            if sid in cached:
                known[a].append(cached[sid])
        for i, held in enumerate(mine):
            if held:
                known[i].extend(held)
        ins_holders: dict[tuple[str, str], list[Viewed]] = defaultdict(list)
        for matricule, oid, sid, _, _ in holders:
            if sid in cached:
                ins_holders[(matricule, oid)].append(cached[sid])
        phon = [
            [
                p
                for n in (r.traits.birth_family_name, r.traits.used_family_name)
                if n and (p := phonetic_fr(n))
            ]
            for r in records
        ]
        counts, total = await store.family_counts(conn, sorted({p for ps in phon for p in ps}))
    with report.timed("pairs"):
        # Which records each one is compared with does not depend on the decisions (only
        # their golden records do): every pair is known, and scored, before deciding.
        by_key: dict[str, list[int]] = defaultdict(list)
        by_ins: dict[tuple[str, str], list[int]] = defaultdict(list)
        earlier_of: list[list[int]] = []
        same_of: list[list[int]] = []
        for i, record in enumerate(records):
            earlier_of.append(sorted({j for k in lookups[i] for j in by_key.get(k, ())}))
            for k in own[i]:
                by_key[k].append(i)
            ins = record.trusted_ins
            same_of.append(list(by_ins[(ins.matricule, ins.oid)]) if ins else [])
            if ins is not None:
                by_ins[(ins.matricule, ins.oid)].append(i)
        pairs: list[tuple[MatchView, MatchView]] = []
        deterministic: list[bool] = []
        for i, (record, view) in enumerate(zip(records, views, strict=True)):
            ins = record.trusted_ins
            holders = ins_holders.get((ins.matricule, ins.oid), []) if ins else []
            # A record sharing a trusted INS is decided on it: only those pairs count.
            deterministic.append(bool(holders or same_of[i]))
            db = holders if deterministic[-1] else known.get(i, [])
            pairs.extend((view, cv) for _, cv in db)
            inner = same_of[i] if deterministic[-1] else earlier_of[i]
            pairs.extend((view, views[j]) for j in inner)
        report.pairs += len(pairs)
    with report.timed("score"):
        scores = score_pairs(ctx.model, pairs, workers=workers)
    with report.timed("decide"):
        batch_counts = Counter(p for ps in phon for p in set(ps))
        population = total + len(records)
        out: list[_Placement] = []
        at = 0
        for i, record in enumerate(records):
            ins = record.trusted_ins
            if deterministic[i]:
                db, inner = ins_holders.get((ins.matricule, ins.oid), []) if ins else [], same_of[i]
            else:
                db, inner = known.get(i, []), earlier_of[i]
            scored = [(c.golden_id, scores[at + n]) for n, (c, _) in enumerate(db)]
            at += len(db)
            scored += [(out[j].record.golden_id, scores[at + n]) for n, j in enumerate(inner)]
            at += len(inner)
            frequency = None
            if population >= TF_MIN_POPULATION and phon[i]:
                same_name = sum(counts.get(p, 0) + batch_counts[p] for p in set(phon[i]))
                frequency = max(same_name, 1) / population
            decision, method = decide_scored(
                ctx,
                same_ins=scored if deterministic[i] else (),
                candidates=() if deterministic[i] else scored,
                frequency=frequency,
            )
            creates = decision.outcome is not Outcome.LINK or decision.golden_id is None
            golden_id = uuid7() if creates else decision.golden_id
            linked = record.evolve(id=uuid7(), version=1, updated_at=now, golden_id=golden_id)
            out.append(_Placement(linked, decision, method, creates=creates))
        assert at == len(scores)
    return out, views, own
