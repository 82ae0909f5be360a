"""Compositions → OMOP rows, many at a time: a handful of statements per batch rather
than per composition (reads, id allocation, upserts, lineage and problems in bulk)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..adapters.bulk import LINEAGE_COLUMNS, PROBLEM_COLUMNS
from ..adapters.cdm import PRIMARY_KEYS
from ..adapters.store import Store
from ..adapters.translator import Translator
from ..adapters.writers import lock_persons
from ..domain.mapper import Concept, MappedComposition, OmopRow, map_composition
from ..domain.mappings import Mapping as ArchetypeMapping
from .phases import Phases

__all__ = ["Announce", "Materialised", "map_one", "materialise", "observation_periods"]

#: ``announce(table, row id, person id, op, row)``: one change-stream event
Announce = Callable[[str, int, int, str, dict[str, Any]], None]

_VISIT_LINKED = {"condition_occurrence", "drug_exposure", "procedure_occurrence",
                 "measurement", "observation"}  # fmt: skip
#: first and last date of a clinical row (what ``Store.event_spans`` reads back)
_SPAN_COLUMNS = {
    "visit_occurrence": ("visit_start_date", "visit_end_date"),
    "condition_occurrence": ("condition_start_date", "condition_end_date"),
    "drug_exposure": ("drug_exposure_start_date", "drug_exposure_end_date"),
    "procedure_occurrence": ("procedure_date", "procedure_date"),
    "measurement": ("measurement_date", "measurement_date"),
    "observation": ("observation_date", "observation_date"),
}


@dataclass
class Materialised:
    """What a materialisation changed: persons touched, persons whose recorded death row
    went, first/last dates of the rows written per person, persons who lost rows."""

    touched: set[int] = field(default_factory=set)
    deaths_removed: set[int] = field(default_factory=set)
    spans: dict[int, tuple[date, date]] = field(default_factory=dict)
    recompute: set[int] = field(default_factory=set)


async def _translate(
    store: Store, translator: Translator, memory: dict[tuple[str, str], Concept],
    wanted: set[tuple[str, str]],
) -> None:  # fmt: skip
    """Fill the in-memory cache from the database cache, then the terminology service;
    a code it does not know is remembered as concept 0 (until a terminology event)."""
    cached = await store.cached_concepts(wanted)
    missing = wanted - cached.keys()
    if missing:
        found = await translator.translate(missing)
        found.update({pair: Concept(0, 0) for pair in missing - found.keys()})
        await store.cache_concepts(found)
        cached.update(found)
    memory.update(cached)


Misses = set[tuple[str, str]]


def map_one(
    body: Any, voi: str, mappings: Mapping[str, ArchetypeMapping],
    memory: dict[tuple[str, str], Concept],
) -> tuple[MappedComposition, Misses]:  # fmt: skip
    """Map one composition with the cached translations; also the codes not cached."""
    misses: set[tuple[str, str]] = set()

    def lookup(pair: tuple[str, str]) -> Concept | None:
        found = memory.get(pair)
        if found is None:
            misses.add(pair)
        return found

    return map_composition(body, mappings, lookup, key=voi), misses


async def materialise(
    store: Store,
    vois: Sequence[str],
    *,
    mappings: Mapping[str, ArchetypeMapping],
    translator: Translator,
    memory: dict[tuple[str, str], Concept],
    announce: Announce,
    known: Mapping[str, tuple[Any, str, Any, Any]] | None = None,
    premapped: Mapping[str, tuple[str, MappedComposition, Misses]] | None = None,
    phases: Phases | None = None,
    fresh: set[str] | None = None,
    person_lock: int | None = None,
    ehr_persons: Mapping[Any, int | None] | None = None,
) -> Materialised:
    """Rewrite the OMOP rows of these compositions; return the persons touched, those whose
    death row (recorded by a composition) was removed, and the observation spans.
    ``known``: compositions already in memory (voi -> (ehr id, version uid, event id,
    body)), not read back. ``fresh``: compositions the generation has never held (no
    previous rows, lineage or problems to read or delete). ``person_lock``: the generation
    whose persons are locked before their rows change (several writers). ``ehr_persons``:
    the persons of EHRs as read earlier in the transaction."""
    vois = sorted(set(vois))
    tick = (phases or Phases()).ticker()
    # the compositions of this batch are in memory: only the others are read back
    known = known or {}
    stored = {v: known[v] for v in vois if v in known}
    stored.update(await store.compositions([v for v in vois if v not in known]))
    fresh = fresh or set()
    old = await store.lineage_of_many([v for v in vois if v not in fresh])
    persons = await store.ehr_persons((s[0] for s in stored.values()), ehr_persons)
    live = {
        voi: s for voi, s in stored.items() if s[3] is not None and persons.get(s[0]) is not None
    }
    touched = {p for rows in old.values() for _, _, p in rows}
    if person_lock is not None:  # another writer may hold rows of the same persons
        await lock_persons(
            store.conn,
            person_lock,
            touched | {persons[s[0]] for s in live.values()},  # type: ignore[misc]
        )
    tick("read", len(vois))
    deaths_removed: set[int] = set()
    results: dict[str, MappedComposition] = {}
    misses: dict[str, set[tuple[str, str]]] = {}
    premapped = premapped or {}
    for voi, (_, version_uid, _, body) in live.items():
        ahead = premapped.get(voi)
        if ahead is not None and ahead[0] == version_uid:  # mapped while the last batch wrote
            results[voi], misses[voi] = ahead[1], ahead[2]
        else:
            results[voi], misses[voi] = map_one(body, voi, mappings, memory)
    wanted = set().union(*misses.values()) if misses else set()
    if wanted:  # translate what was not cached, then map again what needed it
        await _translate(store, translator, memory, wanted)
        for voi in [v for v, m in misses.items() if m]:
            results[voi], _ = map_one(live[voi][3], voi, mappings, memory)
    tick("map (misses) + translate", len(wanted))
    mapped: dict[str, list[OmopRow]] = {}
    problems: list[tuple[Any, ...]] = []
    for voi, result in results.items():
        mapped[voi] = result.rows
        problems += [
            (voi, n, p.kind, p.archetype_id, p.path, p.detail, p.system, p.code)
            for n, p in enumerate(result.problems)
        ]
    keys: dict[str, list[str]] = {}
    for rows in mapped.values():
        for row in rows:
            if row.table != "death":  # one death row per person: its id is the person's
                keys.setdefault(row.table, []).append(row.key)
    ids: dict[str, int] = {}
    for found in (await store.ids_many(keys)).values():
        ids.update(found)
    tick("ids", len(ids))
    written: dict[str, dict[int, dict[str, Any]]] = {}
    lineage: dict[tuple[str, int], tuple[Any, ...]] = {}
    spans: dict[int, tuple[date, date]] = {}
    for voi, rows in mapped.items():
        ehr_id, version_uid, event_id, _ = live[voi]
        person_id = persons[ehr_id]
        assert person_id is not None
        touched.add(person_id)
        visit = next((ids[r.key] for r in rows if r.table == "visit_occurrence"), None)
        for row in rows:
            table = row.table
            row_id = person_id if table == "death" else ids[row.key]
            values = {**row.columns, PRIMARY_KEYS[table]: row_id, "person_id": person_id}
            if table in _VISIT_LINKED and visit is not None:
                values.setdefault("visit_occurrence_id", visit)
            written.setdefault(table, {})[row_id] = values
            lineage[(table, row_id)] = (
                table, row_id, person_id, ehr_id, voi, version_uid, row.path, event_id
            )  # fmt: skip
            announce(table, row_id, person_id, "upsert", values)
            dates = _SPAN_COLUMNS.get(table)
            if dates is not None:
                first = values[dates[0]]
                last = values.get(dates[1]) or first
                span = spans.get(person_id)
                spans[person_id] = (
                    (first, last) if span is None else (min(span[0], first), max(span[1], last))
                )
    tick("rows: build", len(lineage))
    # the compositions' previous clinical rows go (their ids are the compositions' own),
    # then every row is copied in: COPY in place of an upsert per row; a death row (keyed
    # by person, possibly the patient index's) is upserted. A person who had rows of
    # these compositions gets its observation period recomputed, the others extended.
    gone: dict[str, list[int]] = {}
    recompute: set[int] = set()
    for previous in old.values():
        for table, row_id, old_person in previous:
            recompute.add(old_person)
            if (table, row_id) not in lineage:
                announce(table, row_id, old_person, "delete", {PRIMARY_KEYS[table]: row_id})
                if table == "death":
                    deaths_removed.add(old_person)
            if table != "death" or (table, row_id) not in lineage:
                gone.setdefault(table, []).append(row_id)
    for table, row_ids in gone.items():
        await store.delete_rows(table, row_ids)
    copier = store.copier
    for table, by_id in written.items():
        if table == "death":
            await store.upsert(table, list(by_id.values()))
        else:
            await copier.rows(table, list(by_id.values()))
    tick("rows: delete + copy", len(lineage))
    await store.replace_lineage_many(
        vois, [dict(zip(LINEAGE_COLUMNS, r, strict=True)) for r in lineage.values()
               if r[0] == "death"],
    )  # fmt: skip
    await copier.copy("lineage", LINEAGE_COLUMNS, [r for r in lineage.values() if r[0] != "death"])
    tick("lineage", len(lineage))
    # problems of held compositions are kept: they are reported once the person is known
    await store.delete_problems(
        [v for v in vois if v not in fresh
         and (v in live or v not in stored or stored[v][3] is None)]
    )  # fmt: skip
    await copier.copy("problem", PROBLEM_COLUMNS, problems)
    tick("problems", len(problems))
    return Materialised(touched, deaths_removed, spans, recompute)


async def observation_periods(
    store: Store, persons: set[int], *, announce: Announce,
    spans: Mapping[int, tuple[date, date]] | None = None,
) -> None:  # fmt: skip
    """One period per person, from the first to the last clinical date (type 32817 EHR):
    recomputed from the rows for ``persons``, widened by ``spans`` (the dates of rows just
    added) for the others — no read of every row of a person for each batch."""
    widened = {p: s for p, s in (spans or {}).items() if p not in persons}
    if widened:
        ordered = sorted(widened)
        alive = await store.existing("person", ordered)
        period_ids = await store.ids("observation_period", [str(p) for p in ordered if p in alive])
        rows = await store.extend_periods(
            [(period_ids[str(p)], p, *widened[p]) for p in ordered if p in alive]
        )
        for period_id, person_id, first, last in rows:
            announce("observation_period", period_id, person_id, "upsert", {
                "observation_period_id": period_id, "person_id": person_id,
                "observation_period_start_date": first, "observation_period_end_date": last,
                "period_type_concept_id": 32817,
            })  # fmt: skip
    if not persons:
        return
    ordered = sorted(persons)
    found = await store.event_spans(ordered)
    alive = await store.existing("person", ordered)
    period_ids = await store.ids("observation_period", [str(p) for p in ordered])
    rows = []
    for person_id in ordered:
        span = found.get(person_id) if person_id in alive else None
        if span is None:
            continue
        row = {
            "observation_period_id": period_ids[str(person_id)], "person_id": person_id,
            "observation_period_start_date": span[0], "observation_period_end_date": span[1],
            "period_type_concept_id": 32817,
        }  # fmt: skip
        rows.append(row)
        announce("observation_period", row["observation_period_id"], person_id, "upsert", row)
    await store.upsert("observation_period", rows)
    stale = [(period_ids[str(p)], p) for p in ordered if p not in alive or found.get(p) is None]
    existing = await store.existing("observation_period", [i for i, _ in stale])
    for period_id, person_id in stale:
        if period_id in existing:
            announce("observation_period", period_id, person_id, "delete",
                     {"observation_period_id": period_id})  # fmt: skip
    await store.delete_rows("observation_period", sorted(existing))
