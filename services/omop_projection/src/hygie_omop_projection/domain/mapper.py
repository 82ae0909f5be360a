"""Composition → OMOP rows, by the declarative mappings (pure).

``map_composition`` is deterministic: the same composition, mappings and concept lookup
give the same rows with the same natural keys, so a replay or a new version of the
composition rewrites rows in place (ids come from the natural keys).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from .mappings import Mapping as ArchetypeMapping
from .mappings import Rule
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


def _source(value: Value | None) -> str | None:
    if value is None or value.code is None:
        return None
    return f"{value.system}|{value.code}"[:50] if value.system else value.code[:50]


def _first_time(
    loc: Located, path: str | None, fallbacks: list[datetime | None]
) -> datetime | None:
    if path is not None:
        for found in select(loc, path):
            value = read_value(found.node) if isinstance(found.node, dict) else None
            if value is not None and value.when is not None:
                return value.when
        return None
    own = select(loc, "time")
    if own:
        value = read_value(own[0].node)
        if value is not None and value.when is not None:
            return value.when
    return next((f for f in fallbacks if f is not None), None)


def _own_time(loc: Located, times: dict[int, datetime | None]) -> datetime | None:
    """The node's own ``time`` (an event's, an action's), memoised per mapping run."""
    key = id(loc.node)
    if key not in times:  # ``select(loc, "time")[0]``, without building paths
        node = loc.node.get("time") if type(loc.node) is dict else None
        if type(node) is list:
            node = node[0] if node else None
        value = read_value(node) if type(node) is dict else None
        times[key] = value.when if value is not None else None
    return times[key]


def _concept_of(
    rule: Rule, loc: Located, lookup: Lookup, problems: list[Problem], archetype: str
) -> tuple[int, int, str | None] | None:
    """(concept id, source concept id, source value); None when the coded value is absent."""
    if rule.concept is None:
        return rule.concept_id or 0, 0, rule.source_value
    nodes = select(loc, rule.concept)
    value = read_value(nodes[0].node) if nodes else None
    if value is None or value.code is None:
        if rule.concept_id is not None:
            return rule.concept_id, 0, rule.source_value
        if value is None or not value.text:
            return None
        # free text where a code was expected: kept as source value, concept 0, reported
        problems.append(
            Problem("uncoded", nodes[0].path, archetype, f"free text {value.text[:60]!r}")
        )
        return 0, 0, value.text[:50]
    source = _source(value)
    local = rule.codes.get(f"{value.system}::{value.code}")
    if local is not None:
        return local, 0, source
    found = lookup((vocabulary_of(value.system or ""), value.code))
    if found is None or found.concept_id == 0:
        problems.append(
            Problem(
                "unmapped-code", nodes[0].path, archetype,
                f"{value.system}::{value.code} ({value.text}) has no standard concept",
                system=value.system, code=value.code,
            )
        )  # fmt: skip
        return 0, found.source_concept_id if found else 0, source
    return found.concept_id, found.source_concept_id, source


def _value_columns(role: Role, rule: Rule, value: Value | None, lookup: Lookup) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value is None:
        return out
    if value.number is not None and role.number:
        out[role.number] = value.number
    if value.units is not None and role.unit:
        unit = rule.units.get(value.units)
        if unit is None:
            found = lookup(("UCUM", value.units))
            unit = found.concept_id if found else 0
        out[role.unit] = unit
        if role.unit_source:
            out[role.unit_source] = value.units[:50]
    if value.code is not None and role.value_concept and value.number is None:
        local = rule.codes.get(f"{value.system}::{value.code}")
        found = lookup((vocabulary_of(value.system or ""), value.code))
        out[role.value_concept] = local or (found.concept_id if found else 0)
    text = value.text if value.number is None else None
    if text is not None and role.value_string:
        out[role.value_string] = text[:60]
    source = _source(value) or (text if text is not None else value.number)
    if source is not None and role.value_source:
        out[role.value_source] = str(source)[:50]
    return out


@functools.lru_cache(maxsize=64)
def _deep(archetypes: tuple[str, ...]) -> bool:
    """Whether a mapping names an archetype below the entries (a CLUSTER)."""
    shallow = ("openEHR-EHR-COMPOSITION.", "openEHR-EHR-SECTION.", *_ENTRY_IDS)
    return any(not a.startswith(shallow) for a in archetypes)


def map_composition(
    composition: dict[str, Any],
    mappings: Mapping[str, ArchetypeMapping],
    lookup: Lookup,
    *,
    key: str,
) -> MappedComposition:
    """The OMOP rows of a composition (``key``: its versioned object id)."""
    out = MappedComposition()
    root = Located(composition, "")
    context_start = _first_time(root, "context/start_time", [])
    context_end = _first_time(root, "context/end_time", [])
    # no mapping of a CLUSTER archetype: entries are not walked into (their clusters are
    # reached by the rules' paths)
    deep = _deep(tuple(mappings))
    entries = index_entries(composition, inside_entries=deep)
    times: dict[int, datetime | None] = {}  # own time of entries and events, read once
    for archetype_id, mapping in mappings.items():
        for entry in entries.get(archetype_id, ()):
            for index, rule in enumerate(mapping.rules):
                contexts = select(entry, rule.each) if rule.each else [entry]
                for ctx in contexts:
                    for sub in select(ctx, rule.within) if rule.within else [ctx]:
                        row = _row(rule, index, sub, ctx, entry, key, archetype_id, lookup,
                                   out.problems, context_start, context_end, times)  # fmt: skip
                        if row is not None:
                            out.rows.append(row)
    return out


def _row(
    rule: Rule,
    index: int,
    ctx: Located,
    outer: Located,
    entry: Located,
    key: str,
    archetype: str,
    lookup: Lookup,
    problems: list[Problem],
    context_start: datetime | None,
    context_end: datetime | None,
    times: dict[int, datetime | None],
) -> OmopRow | None:
    role = ROLES[rule.table]
    value: Value | None = None
    path = ctx.path
    if rule.value is not None:
        nodes = select(ctx, rule.value)
        value = read_value(nodes[0].node) if nodes else None
        if value is None:
            return None  # the element is absent: nothing to project
        path = nodes[0].path
    concept = _concept_of(rule, ctx, lookup, problems, archetype)
    if concept is None:
        return None
    entry_time = _own_time(entry, times) or context_start
    outer_time = (_own_time(outer, times) or entry_time) if outer is not ctx else entry_time
    start = (
        _first_time(ctx, rule.start, []) if rule.start is not None
        else _own_time(ctx, times) or outer_time or context_start
    )  # fmt: skip
    if start is None and rule.start is not None and rule.start_fallback:
        start = _own_time(ctx, times) or outer_time or context_start
    if start is None:
        problems.append(Problem("no-date", path, archetype, f"no date for a {rule.table} row"))
        return None
    end = _first_time(ctx, rule.end, []) if rule.end else None
    if end is None and rule.table == "visit_occurrence":
        end = context_end
    if end is None and role.end_required:
        end = start
    columns: dict[str, Any] = {
        role.concept: concept[0],
        role.date: start.date(),
    }
    if role.datetime:
        columns[role.datetime] = start.replace(tzinfo=None)
    if role.type:
        columns[role.type] = rule.type_concept_id
    if role.source_value and concept[2] is not None:
        columns[role.source_value] = concept[2][:50]
    if role.source_concept:
        columns[role.source_concept] = concept[1]
    if end is not None and role.end_date:
        columns[role.end_date] = end.date()
        if role.end_datetime:
            columns[role.end_datetime] = end.replace(tzinfo=None)
    columns.update(_value_columns(role, rule, value, lookup))
    columns.update(rule.columns)
    return OmopRow(rule.table, f"{key}|{path}|{index}", path, columns, start)


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
