"""Use case: load many identities at once (``hygie patients load``), with the rules and
events of one-by-one registration but set-based work.

Per batch, in one unit of work: validation (a record breaking a rule is reported and
not stored, the others are); identifiers already bound (or repeated in the batch) go
through ``record_identity`` as updates; the others are blocked by one join on the
blocking keys (domain.blocking) against the index *and* the earlier records of the batch,
then decided in file order by the same ``decide_match`` as the online path — so a record
links to one registered before it, in the index or in the file. Golden records, source
records and identifiers are written with COPY; events are journaled as one by one would
(``registered`` once per new patient with its final traits, ``linked`` per source record,
``review_requested`` per review item, ``updated`` for existing patients that gained a
source).

Differences with the online path, by design: no cap on the candidates of a record (the
online path takes the first ``max_candidates``), and the family-name frequency of the
term-frequency adjustment is counted once per batch.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
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
from ..adapters.candidates import TF_MIN_POPULATION
from ..adapters.codec import golden_snapshot
from ..domain.blocking import blocking_keys, query_keys
from ..domain.comparators import MatchView
from ..domain.errors import Issue
from ..domain.golden import survive
from ..domain.identity import SourceRecord
from ..domain.normalise import phonetic_fr
from ..domain.scoring import Decision, Outcome
from ..domain.validation import validate_record
from .context import IndexContext
from .events import contract_identifier, snapshot_event
from .identity import record_identity
from .matching import decide_match

__all__ = ["BulkReport", "load_identities"]


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


async def load_identities(
    uows: Callable[[], UnitOfWork],
    ctx: IndexContext,
    drafts: Sequence[SourceRecord],
    *,
    by: str | None,
    batch: int = 25_000,
) -> BulkReport:
    """Register ``drafts`` (in their order) by batches of ``batch``, one transaction each."""
    report = BulkReport(received=len(drafts))
    for start in range(0, len(drafts), batch):
        async with uows() as uow:
            await _load_batch(uow, ctx, drafts[start : start + batch], start, report, by=by)
    return report


async def _load_batch(
    uow: UnitOfWork,
    ctx: IndexContext,
    drafts: Sequence[SourceRecord],
    offset: int,
    report: BulkReport,
    *,
    by: str | None,
) -> None:
    conn = uow.connection
    today, now = ctx.today(), ctx.now()
    valid: list[tuple[int, SourceRecord]] = []
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
            fresh.append(draft.evolve(id=uuid7(), version=1, updated_at=now, golden_id=None))
    placements, block_keys = await _match(uow, ctx, fresh)
    members: dict[UUID, list[SourceRecord]] = defaultdict(list)
    records = []
    for record, place in zip(fresh, placements, strict=True):
        linked = record.evolve(golden_id=place.golden_id)
        records.append(linked)
        members[place.golden_id].append(linked)
    created = {p.golden_id for p in placements if p.creates}
    new_goldens = [survive(g, members[g]) for g in members if g in created]
    await store.copy_goldens(conn, new_goldens)
    await store.copy_sources(conn, records, block_keys)
    for g in new_goldens:
        uow.record(snapshot_event(PatientRegistered, g))
    await _refresh_existing(uow, sorted(set(members) - created))
    reviews = []
    for record, place in zip(records, placements, strict=True):
        d = place.decision
        uow.record(
            PatientLinked(
                patient_id=place.golden_id,
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
                    patient_id=place.golden_id,
                    review_id=review_id,
                    candidate_id=d.golden_id,
                    score=d.score.weight,
                    reason=reason,
                    source_identifier=contract_identifier(record.identifier),
                )
            )
    await store.copy_reviews(conn, reviews)
    report.reviews += len(reviews)
    report.created += len(records)
    report.new_patients += len(new_goldens)
    report.linked += sum(not p.creates for p in placements)
    for draft in later:
        result = await record_identity(uow, ctx, draft, by=by)
        report.updated += not result.created
        report.created += result.created


async def _refresh_existing(uow: UnitOfWork, golden_ids: Sequence[UUID]) -> None:
    """``refresh_golden`` for many patients at once: locked and read in one query each,
    rebuilt by the same survivorship, written in one executemany, ``updated`` journaled
    for those that changed."""
    if not golden_ids:
        return
    conn = uow.connection
    olds = await store.goldens_for_update(conn, golden_ids)
    sources = await store.sources_of_goldens(conn, golden_ids)
    changed = []
    for old in olds:
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


@dataclass(frozen=True)
class _Placement:
    golden_id: UUID
    decision: Decision
    method: str
    creates: bool
    """The record starts a new golden record."""


async def _match(
    uow: UnitOfWork, ctx: IndexContext, records: Sequence[SourceRecord]
) -> tuple[list[_Placement], list[list[str]]]:
    """Where each record goes, decided in order (a record may join one placed before),
    and the blocking keys of each."""
    conn = uow.connection
    views = [MatchView(r) for r in records]
    own = [blocking_keys(r, v) for r, v in zip(records, views, strict=True)]
    index_keys = [(i, k) for i, keys in enumerate(own) for k in keys]
    lookup_keys = [
        (i, k)
        for i, (r, keys) in enumerate(zip(records, own, strict=True))
        for k in query_keys(r, own=keys)
    ]
    inner, outer = await store.candidate_pairs(conn, index_keys, lookup_keys)
    earlier: dict[int, list[int]] = defaultdict(list)
    for a, b in inner:
        earlier[a].append(b)
    known: dict[int, list[UUID]] = defaultdict(list)
    for a, b in outer:
        known[a].append(b)
    existing = await store.sources_by_id(conn, sorted({b for _, b in outer}))
    trusted = sorted({r.trusted_ins.matricule for r in records if r.trusted_ins})
    ins_holders: dict[tuple[str, str], list[SourceRecord]] = defaultdict(list)
    for s in await store.sources_with_any_ins(conn, trusted):
        assert s.ins is not None
        ins_holders[(s.ins.matricule, s.ins.oid)].append(s)
    phon = [
        [
            p
            for n in (r.traits.birth_family_name, r.traits.used_family_name)
            if n and (p := phonetic_fr(n))
        ]
        for r in records
    ]
    counts, total = await store.family_counts(conn, sorted({p for ps in phon for p in ps}))
    batch_counts = Counter(p for ps in phon for p in set(ps))
    population = total + len(records)
    out: list[_Placement] = []
    placed: list[SourceRecord] = []
    for i, record in enumerate(records):
        ins = record.trusted_ins
        same = ins_holders.get((ins.matricule, ins.oid), []) if ins else []
        candidates = [existing[s] for s in known.get(i, ()) if s in existing]
        candidates += [placed[j] for j in earlier.get(i, ())]
        frequency = None
        if population >= TF_MIN_POPULATION and phon[i]:
            same_name = sum(counts.get(p, 0) + batch_counts[p] for p in set(phon[i]))
            frequency = max(same_name, 1) / population
        decision, method = decide_match(
            ctx, record, same_ins=same, candidates=candidates, frequency=frequency
        )
        if decision.outcome is Outcome.LINK and decision.golden_id is not None:
            out.append(_Placement(decision.golden_id, decision, method, creates=False))
        else:
            out.append(_Placement(uuid7(), decision, method, creates=True))
        placed.append(record.evolve(golden_id=out[-1].golden_id))
        if ins is not None:
            ins_holders[(ins.matricule, ins.oid)].append(placed[-1])
    return out, own
