"""Composition → OMOP rows, by the declarative mappings (pure).

``map_composition`` is deterministic: the same composition, mappings and concept lookup
give the same rows with the same natural keys, so a replay or a new version of the
composition rewrites rows in place (ids come from the natural keys).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from .compiled import (
    MISSING,
    CompiledRule,
    Steps,
    every,
    first,
    first_node,
    first_time,
    rules_of,
    select_time,
    steps_of,
)
from .mappings import Mapping as ArchetypeMapping
from .paths import Located, Value, index_entries, read_value, select

__all__ = [
    "ROLES",
    "Concept",
    "MappedComposition",
    "OmopRow",
    "Problem",
    "codes_of",
    "map_composition",
    "vocabulary_of",
]

#: openEHR terminology ids -> OMOP vocabulary ids (what the batch translate accepts)
_VOCABULARIES = {
    "SNOMED-CT": "SNOMED",
    "SNOMED CT": "SNOMED",
    "LOINC": "LOINC",
    "ICD10": "ICD10",
    "ICD-10": "ICD10",
    "CIM-10": "ICD10",
    "ATC": "ATC",
    "RXNORM": "RxNorm",
    "UCUM": "UCUM",
    "CCAM": "CCAM",
}


_ENTRY_IDS = tuple(
    f"openEHR-EHR-{kind}."
    for kind in ("OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY")
)


def vocabulary_of(terminology: str) -> str:
    """The OMOP vocabulary id of an openEHR terminology id (else unchanged)."""
    return _VOCABULARIES.get(terminology.upper(), terminology)


@dataclass(frozen=True, slots=True)
class Concept:
    """The translation of a source code: standard concept (0 when unmapped) and source concept."""

    concept_id: int
    source_concept_id: int = 0


@dataclass(frozen=True, slots=True)
class Role:
    """Which columns of a table hold the concept, dates, value... of a row."""

    concept: str
    date: str
    datetime: str | None
    type: str | None
    source_value: str | None
    source_concept: str | None
    end_date: str | None = None
    end_datetime: str | None = None
    number: str | None = None
    value_concept: str | None = None
    value_string: str | None = None
    unit: str | None = None
    unit_source: str | None = None
    value_source: str | None = None
    end_required: bool = False


ROLES: dict[str, Role] = {
    "measurement": Role(
        "measurement_concept_id", "measurement_date", "measurement_datetime",
        "measurement_type_concept_id", "measurement_source_value",
        "measurement_source_concept_id", number="value_as_number",
        value_concept="value_as_concept_id", unit="unit_concept_id",
        unit_source="unit_source_value", value_source="value_source_value",
    ),
    "observation": Role(
        "observation_concept_id", "observation_date", "observation_datetime",
        "observation_type_concept_id", "observation_source_value",
        "observation_source_concept_id", number="value_as_number",
        value_concept="value_as_concept_id", value_string="value_as_string",
        unit="unit_concept_id", unit_source="unit_source_value", value_source="value_source_value",
    ),
    "condition_occurrence": Role(
        "condition_concept_id", "condition_start_date", "condition_start_datetime",
        "condition_type_concept_id", "condition_source_value", "condition_source_concept_id",
        end_date="condition_end_date", end_datetime="condition_end_datetime",
    ),
    "drug_exposure": Role(
        "drug_concept_id", "drug_exposure_start_date", "drug_exposure_start_datetime",
        "drug_type_concept_id", "drug_source_value", "drug_source_concept_id",
        end_date="drug_exposure_end_date", end_datetime="drug_exposure_end_datetime",
        end_required=True,
    ),
    "procedure_occurrence": Role(
        "procedure_concept_id", "procedure_date", "procedure_datetime",
        "procedure_type_concept_id", "procedure_source_value", "procedure_source_concept_id",
        end_date="procedure_end_date", end_datetime="procedure_end_datetime",
    ),
    "visit_occurrence": Role(
        "visit_concept_id", "visit_start_date", "visit_start_datetime", "visit_type_concept_id",
        "visit_source_value", "visit_source_concept_id", end_date="visit_end_date",
        end_datetime="visit_end_datetime", end_required=True,
    ),
    "death": Role(
        "cause_concept_id", "death_date", "death_datetime", "death_type_concept_id",
        "cause_source_value", "cause_source_concept_id",
    ),
}  # fmt: skip


class OmopRow(NamedTuple):
    """A row without its person and its own id (the writer resolves both)."""

    table: str
    key: str
    """natural key: ``<versioned object id>|<path>|<rule>`` — the id-map key"""
    path: str
    """archetype path of the node that produced the row (lineage)"""
    columns: dict[str, Any]
    start: datetime


class Problem(NamedTuple):
    """Something of a composition that could not be projected (the unmapped report)."""

    kind: str  # "unmapped-code", "no-date", "no-mapping"
    path: str
    archetype_id: str
    detail: str
    system: str | None = None
    code: str | None = None


@dataclass
class MappedComposition:
    rows: list[OmopRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


Lookup = Callable[[tuple[str, str]], Concept | None]
"""``lookup((vocabulary, code))``: the cached translation, None when not translated yet."""


_new = tuple.__new__  # NamedTuple rows built without their Python-level ``__new__``


def _reach(node: Any, path: str, raw: str, steps: Steps | None) -> tuple[Any, str] | None:
    """The first node (and its path) ``raw`` reaches from ``node``, or None."""
    if steps is not None:
        return first(node, path, steps)
    nodes = select(Located(node, path), raw)
    return nodes[0] if nodes else None


def _own_time(node: Any, times: dict[Any, datetime | None]) -> datetime | None:
    """The node's own ``time`` (an event's, an action's), memoised per mapping run."""
    key = id(node)
    when = times.get(key, MISSING)
    if when is MISSING:
        when = times[key] = _read_own_time(node)
    return when  # type: ignore[no-any-return]


def _read_own_time(node: Any) -> datetime | None:
    """``select(loc, "time")[0]``'s date/time, without building paths."""
    time = node.get("time") if type(node) is dict else None
    if type(time) is list:
        time = time[0] if time else None
    value = read_value(time) if type(time) is dict else None
    return value.when if value is not None else None


def _time_at(node: Any, raw: str, steps: Steps | None, times: dict[Any, Any]) -> datetime | None:
    """The first date/time ``raw`` reaches from ``node``, memoised per mapping run (the
    context's start and end times date the composition and its visit)."""
    key = (id(node), raw)
    when = times.get(key, MISSING)
    if when is MISSING:
        when = times[key] = first_time(node, steps) if steps is not None else select_time(node, raw)
    return when  # type: ignore[no-any-return]


_SPLIT: dict[int, tuple[datetime, date, datetime]] = {}


def _split(when: datetime) -> tuple[datetime, date, datetime]:
    """(when, its date, its naive date/time): the times of a composition repeat."""
    hit = _SPLIT.get(id(when))
    if hit is not None and hit[0] is when:
        return hit
    if len(_SPLIT) >= 4096:
        _SPLIT.clear()
    hit = _SPLIT[id(when)] = (when, when.date(), when.replace(tzinfo=None))
    return hit  # the time is kept: its id is not reused


def _concept_of(
    rule: CompiledRule, node: Any, path: str, lookup: Lookup, problems: list[Problem],
    archetype: str,
) -> tuple[int, int, str | None] | None:  # fmt: skip
    """(concept id, source concept id, source value); None when the coded value is absent."""
    raw = rule.concept
    if raw is None:
        return rule.constant
    steps = rule.concept_steps
    if steps is not None:
        found = first_node(node, steps)
        value = read_value(found) if found is not MISSING else None
    else:
        nodes = select(Located(node, path), raw)
        value = read_value(nodes[0].node) if nodes else None
    if value is None or value.code is None:
        if rule.rule.concept_id is not None:
            return rule.rule.concept_id, 0, rule.rule.source_value
        if value is None or not value.text:
            return None
        # free text where a code was expected: kept as source value, concept 0, reported
        where = _reach(node, path, raw, steps)[1]  # type: ignore[index]
        problems.append(Problem("uncoded", where, archetype, f"free text {value.text[:60]!r}"))
        return 0, 0, value.text[:50]
    system, code = value.system, value.code
    source = f"{system}|{code}"[:50] if system else code[:50]
    local = rule.codes.get(f"{system}::{code}")
    if local is not None:
        return local, 0, source
    concept = lookup((vocabulary_of(system or ""), code))
    if concept is None or concept.concept_id == 0:
        where = _reach(node, path, raw, steps)[1]  # type: ignore[index]
        problems.append(
            Problem(
                "unmapped-code", where, archetype,
                f"{system}::{code} ({value.text}) has no standard concept",
                system=system, code=code,
            )
        )  # fmt: skip
        return 0, concept.source_concept_id if concept else 0, source
    return concept.concept_id, concept.source_concept_id, source


def _value_columns(
    columns: dict[str, Any], role: Role, rule: CompiledRule, value: Value, lookup: Lookup
) -> None:
    number = value.number
    if number is not None and role.number:
        columns[role.number] = number
    units = value.units
    if units is not None and role.unit:
        unit = rule.units.get(units)
        if unit is None:
            found = lookup(("UCUM", units))
            unit = found.concept_id if found else 0
        columns[role.unit] = unit
        if role.unit_source:
            columns[role.unit_source] = units[:50]
    if value.code is not None and role.value_concept and number is None:
        local = rule.codes.get(f"{value.system}::{value.code}")
        found = lookup((vocabulary_of(value.system or ""), value.code))
        columns[role.value_concept] = local or (found.concept_id if found else 0)
    text = value.text if number is None else None
    if text is not None and role.value_string:
        columns[role.value_string] = text[:60]
    if role.value_source:
        code = value.code  # the source value of the code, else the text, else the number
        if code is None:
            source: Any = None
        else:
            source = f"{value.system}|{code}"[:50] if value.system else code[:50]
        source = source or (text if text is not None else number)
        if source is not None:
            columns[role.value_source] = str(source)[:50]


@functools.lru_cache(maxsize=64)
def _layout(archetypes: tuple[str, ...]) -> tuple[bool, dict[str, int]]:
    """Whether a mapping names an archetype below the entries (a CLUSTER), and the rank
    of each archetype among the mappings."""
    shallow = ("openEHR-EHR-COMPOSITION.", "openEHR-EHR-SECTION.", *_ENTRY_IDS)
    deep = any(not a.startswith(shallow) for a in archetypes)
    return deep, {a: rank for rank, a in enumerate(archetypes)}


_CONTEXT_START = steps_of("context/start_time")
_CONTEXT_END = steps_of("context/end_time")


def map_composition(
    composition: dict[str, Any],
    mappings: Mapping[str, ArchetypeMapping],
    lookup: Lookup,
    *,
    key: str,
) -> MappedComposition:
    """The OMOP rows of a composition (``key``: its versioned object id)."""
    out = MappedComposition()
    rows, problems = out.rows, out.problems
    # own times of entries and events (by node), times at a path (by node and path)
    times: dict[Any, datetime | None] = {}
    context_start = _time_at(composition, "context/start_time", _CONTEXT_START, times)
    context_end = _time_at(composition, "context/end_time", _CONTEXT_END, times)
    # no mapping of a CLUSTER archetype: entries are not walked into (their clusters are
    # reached by the rules' paths)
    deep, ranks = _layout(tuple(mappings))
    entries = index_entries(composition, inside_entries=deep)
    # the mapped archetypes of the composition, in the order of the mappings
    present = [a for a in entries if a in ranks]
    if len(present) > 1:
        present.sort(key=ranks.__getitem__)
    for archetype_id in present:
        located = entries[archetype_id]
        mapping = mappings[archetype_id]
        rules = rules_of(mapping, ROLES)
        for entry in located:
            entry_node, entry_path = entry
            reached: dict[str, Sequence[tuple[Any, str]]] = {}  # ``each`` -> nodes, alike rules
            for index, rule in enumerate(rules):
                each = rule.each
                if each is None:
                    contexts: Sequence[tuple[Any, str]] = [entry]
                elif each in reached:
                    contexts = reached[each]
                else:
                    steps = rule.each_steps
                    contexts = reached[each] = (
                        every(entry_node, entry_path, steps) if steps is not None
                        else select(entry, each)
                    )  # fmt: skip
                for ctx_node, ctx_path in contexts:
                    if rule.within is None:
                        row = _row(rule, index, ctx_node, ctx_path, MISSING, entry_node, key,
                                   archetype_id, lookup, problems, context_start,
                                   context_end, times)  # fmt: skip
                        if row is not None:
                            rows.append(row)
                        continue
                    steps = rule.within_steps
                    subs = (
                        every(ctx_node, ctx_path, steps) if steps is not None
                        else select(Located(ctx_node, ctx_path), rule.within)
                    )  # fmt: skip
                    for sub_node, sub_path in subs:
                        row = _row(rule, index, sub_node, sub_path, ctx_node, entry_node, key,
                                   archetype_id, lookup, problems, context_start,
                                   context_end, times)  # fmt: skip
                        if row is not None:
                            rows.append(row)
    return out


def _row(
    rule: CompiledRule,
    index: int,
    node: Any,
    path: str,
    outer: Any,
    entry: Any,
    key: str,
    archetype: str,
    lookup: Lookup,
    problems: list[Problem],
    context_start: datetime | None,
    context_end: datetime | None,
    times: dict[Any, datetime | None],
) -> OmopRow | None:
    """The row of one node (``outer``: the ``each`` node of a ``within`` one, else MISSING)."""
    value: Value | None = None
    node_path = path
    if rule.value is not None:
        steps = rule.value_steps
        found = (
            first(node, path, steps) if steps is not None else _reach(node, path, rule.value, None)
        )
        if found is None:
            return None
        value = read_value(found[0])
        if value is None:
            return None  # the element is absent: nothing to project
        path = found[1]
    if rule.concept is None:
        concept_id, source_concept_id, source = rule.constant
    else:
        concept = _concept_of(rule, node, node_path, lookup, problems, archetype)
        if concept is None:
            return None
        concept_id, source_concept_id, source = concept
    # dated by its ``start``, else its own time, its ``each`` node's, its entry's, the context's
    start = _time_at(node, rule.start, rule.start_steps, times) if rule.start is not None else None
    if start is None and rule.fallback:
        start = times.get(id(node), MISSING)  # ``_own_time``, memoised
        if start is MISSING:
            start = times[id(node)] = _read_own_time(node)
        if start is None:
            start = (
                (_own_time(outer, times) if outer is not MISSING else None)
                or _own_time(entry, times)
                or context_start
            )
    if start is None:
        problems.append(Problem("no-date", path, archetype, f"no date for a {rule.table} row"))
        return None
    role = rule.role
    end = _time_at(node, rule.end, rule.end_steps, times) if rule.end is not None else None
    if end is None:
        if rule.visit:
            end = context_end
        if end is None and role.end_required:
            end = start
    split = _SPLIT.get(id(start))
    if split is None or split[0] is not start:
        split = _split(start)
    _, day, naive = split
    columns: dict[str, Any] = {role.concept: concept_id, role.date: day}
    if role.datetime:
        columns[role.datetime] = naive
    if role.type:
        columns[role.type] = rule.type_concept_id
    if role.source_value and source is not None:
        columns[role.source_value] = source[:50]
    if role.source_concept:
        columns[role.source_concept] = source_concept_id
    if end is not None and role.end_date:
        _, day, naive = _split(end)
        columns[role.end_date] = day
        if role.end_datetime:
            columns[role.end_datetime] = naive
    if value is not None:
        _value_columns(columns, role, rule, value, lookup)
    if rule.columns:
        columns.update(rule.columns)
    row: OmopRow = _new(OmopRow, (rule.table, f"{key}|{path}|{index}", path, columns, start))
    return row


def codes_of(
    composition: dict[str, Any], mappings: Mapping[str, ArchetypeMapping]
) -> set[tuple[str, str]]:
    """The (vocabulary, code) pairs the mapping of a composition will look up."""
    wanted: set[tuple[str, str]] = set()

    def record(pair: tuple[str, str]) -> Concept | None:
        wanted.add(pair)
        return None

    map_composition(composition, mappings, record, key="")
    return wanted
