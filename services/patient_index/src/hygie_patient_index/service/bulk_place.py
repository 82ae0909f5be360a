"""Where the records of a bulk-load batch go (service.bulk): blocking against the index
and in memory, every pair scored first (service.bulk_match), then decided in file order."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWork

from ..adapters import bulk as store
from ..adapters.candidates import TF_MIN_POPULATION
from ..domain.blocking import blocking_keys, query_keys
from ..domain.comparators import MatchView
from ..domain.golden import GoldenRecord
from ..domain.identity import SourceRecord
from ..domain.normalise import phonetic_fr
from ..domain.scoring import Decision, Outcome
from .bulk_match import Viewed, decide_scored, score_pairs
from .context import IndexContext

if TYPE_CHECKING:
    from .bulk import BulkReport

__all__ = ["Placement", "Written", "place_records"]


@dataclass
class Written:
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


@dataclass(frozen=True)
class Placement:
    record: SourceRecord
    """The new source record, linked to its golden record."""
    decision: Decision
    method: str
    creates: bool
    """The record starts a new golden record."""


async def place_records(
    uow: UnitOfWork,
    ctx: IndexContext,
    records: Sequence[SourceRecord],
    report: BulkReport,
    written: Written,
    *,
    now: datetime,
    workers: int,
) -> tuple[list[Placement], list[MatchView], list[list[str]]]:
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
        out: list[Placement] = []
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
            out.append(Placement(linked, decision, method, creates=creates))
        assert at == len(scores)
    return out, views, own
