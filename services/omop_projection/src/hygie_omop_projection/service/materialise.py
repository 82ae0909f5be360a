"""Compositions → OMOP rows, many at a time: a handful of statements per batch rather
than per composition (reads, id allocation, upserts, lineage and problems in bulk)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..adapters.cdm import PRIMARY_KEYS
from ..adapters.store import Store
from ..adapters.translator import Translator
from ..domain.mapper import Concept, MappedComposition, OmopRow, map_composition
from ..domain.mappings import Mapping as ArchetypeMapping

__all__ = ["Announce", "map_one", "materialise", "observation_periods"]

#: ``announce(table, row id, person id, op, row)``: one change-stream event
Announce = Callable[[str, int, int, str, dict[str, Any]], None]

_VISIT_LINKED = {"condition_occurrence", "drug_exposure", "procedure_occurrence",
                 "measurement", "observation"}  # fmt: skip


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
) -> tuple[set[int], set[int]]:
    """Rewrite the OMOP rows of these compositions; return the persons touched and those
    whose death row (recorded by a composition) was removed. ``known``: compositions
    already in memory (voi -> (ehr id, version uid, event id, body)), not read back."""
    vois = sorted(set(vois))
    # the compositions of this batch are in memory: only the others are read back
    known = known or {}
    stored = {v: known[v] for v in vois if v in known}
    stored.update(await store.compositions([v for v in vois if v not in known]))
    old = await store.lineage_of_many(vois)
    persons = await store.ehr_persons(s[0] for s in stored.values())
    live = {
        voi: s for voi, s in stored.items() if s[3] is not None and persons.get(s[0]) is not None
    }
    touched = {p for rows in old.values() for _, _, p in rows}
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
    mapped: dict[str, list[OmopRow]] = {}
    problems: list[dict[str, Any]] = []
    for voi, result in results.items():
        mapped[voi] = result.rows
        problems += [
            {"voi": voi, "n": n, "kind": p.kind, "archetype_id": p.archetype_id, "path": p.path,
             "detail": p.detail, "system": p.system, "code": p.code}
            for n, p in enumerate(result.problems)
        ]  # fmt: skip
    keys: dict[str, list[str]] = {}
    for rows in mapped.values():
        for row in rows:
            if row.table != "death":  # one death row per person: its id is the person's
                keys.setdefault(row.table, []).append(row.key)
    ids: dict[str, int] = {}
    for found in (await store.ids_many(keys)).values():
        ids.update(found)
    written: dict[str, dict[int, dict[str, Any]]] = {}
    lineage: dict[tuple[str, int], dict[str, Any]] = {}
    kept: set[tuple[str, int]] = set()
    for voi, rows in mapped.items():
        ehr_id, version_uid, event_id, _ = live[voi]
        person_id = persons[ehr_id]
        assert person_id is not None
        touched.add(person_id)
        visit = next((ids[r.key] for r in rows if r.table == "visit_occurrence"), None)
        for row in rows:
            row_id = person_id if row.table == "death" else ids[row.key]
            values = {**row.columns, PRIMARY_KEYS[row.table]: row_id, "person_id": person_id}
            if row.table in _VISIT_LINKED and visit is not None:
                values.setdefault("visit_occurrence_id", visit)
            written.setdefault(row.table, {})[row_id] = values
            kept.add((row.table, row_id))
            lineage[(row.table, row_id)] = {
                "omop_table": row.table, "omop_id": row_id, "person_id": person_id,
                "ehr_id": ehr_id, "versioned_object_id": voi, "version_uid": version_uid,
                "archetype_path": row.path, "event_id": event_id,
            }  # fmt: skip
            announce(row.table, row_id, person_id, "upsert", values)
    for table, by_id in written.items():
        await store.upsert(table, list(by_id.values()))
    gone: dict[str, list[int]] = {}
    for previous in old.values():
        for table, row_id, old_person in previous:
            if (table, row_id) not in kept:
                gone.setdefault(table, []).append(row_id)
                announce(table, row_id, old_person, "delete", {PRIMARY_KEYS[table]: row_id})
                if table == "death":
                    deaths_removed.add(old_person)
    for table, row_ids in gone.items():
        await store.delete_rows(table, row_ids)
    await store.replace_lineage_many(vois, list(lineage.values()))
    # problems of held compositions are kept: they are reported once the person is known
    await store.replace_problems_many(
        [v for v in vois if v in live or v not in stored or stored[v][3] is None], problems
    )
    return touched, deaths_removed


async def observation_periods(store: Store, persons: set[int], *, announce: Announce) -> None:
    """One period per person, from the first to the last clinical date (type 32817 EHR)."""
    if not persons:
        return
    ordered = sorted(persons)
    spans = await store.event_spans(ordered)
    alive = await store.existing("person", ordered)
    period_ids = await store.ids("observation_period", [str(p) for p in ordered])
    rows = []
    for person_id in ordered:
        span = spans.get(person_id) if person_id in alive else None
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
    stale = [(period_ids[str(p)], p) for p in ordered if p not in alive or spans.get(p) is None]
    existing = await store.existing("observation_period", [i for i, _ in stale])
    for period_id, person_id in stale:
        if period_id in existing:
            announce("observation_period", period_id, person_id, "delete",
                     {"observation_period_id": period_id})  # fmt: skip
    await store.delete_rows("observation_period", sorted(existing))
