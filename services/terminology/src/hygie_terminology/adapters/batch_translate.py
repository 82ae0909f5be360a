"""The batch translate as one statement: the request's codes go in as JSON columns, the
answer comes back as the JSON text of the results, built by PostgreSQL.

Per code, in request order: its source concept (by ``concept_id`` for the OMOP concept-id
system, else by ``vocabulary_id`` + ``concept_code``, a valid concept first when a code
was reused), the targets of explicit ConceptMaps to OMOP concepts (which win), else its
valid OMOP relationships of the requested kinds ("Maps to", "Maps to value"), and its
status. No Python object is made per code or per target: on 10,000 codes they cost more
than the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["BatchCodes", "BatchSystem", "explicit_and_fhir_systems", "translate_json"]

_TARGET = (
    "json_build_object('concept_id', t.concept_id, 'concept_code', t.concept_code, "
    "'vocabulary_id', t.vocabulary_id, 'domain_id', t.domain_id, 'display', t.concept_name, "
    "'relationship', {rel})"
)
_CONCEPT_MAP_TARGET = _TARGET.format(rel="'ConceptMap'")
_OMOP_TARGET = _TARGET.format(rel="r.relationship_id")


@dataclass(frozen=True)
class BatchSystem:
    """How the codes of one system of the request are looked up."""

    system: str
    vocabulary: str | None = None
    """OMOP ``vocabulary_id`` to look its codes up in (None: not an OMOP vocabulary)."""
    by_id: bool = False
    """Its codes are OMOP concept ids."""
    fhir: bool = False
    """A stored FHIR CodeSystem (a code is known if it defines it)."""
    maybe_unknown: bool = False
    """Unknown unless a ConceptMap maps some of the request's codes of it."""
    mapped: bool = False
    """Some ConceptMap maps it to OMOP concepts (else its maps are not probed)."""


@dataclass
class BatchCodes:
    """The request in columns: codes and the index of each one's system."""

    systems: list[BatchSystem]
    codes: list[str]
    system_index: list[int] = field(default_factory=list)


def _statement(schema: str | None) -> str:
    """Correlated subqueries, so that every lookup is an index probe per code whatever
    the planner estimates of the unnested arrays."""
    explicit_where = (
        "m.source_system = q.system AND m.source_code = q.code AND m.target_system = $5 "
        "AND m.target_code ~ '^[0-9]{1,9}$'"
    )
    if schema is None:  # no OMOP release: nothing resolves to a concept
        concept_id = "CAST(NULL AS integer)"
        explicit = "CAST(NULL AS json)"
        omop = "CAST(NULL AS json) WHERE $4::text[] IS NOT NULL"
    else:
        s = schema
        concept_id = (
            f"coalesce((SELECT c.concept_id FROM {s}.concept c WHERE c.concept_id = q.cid), "
            f"(SELECT c.concept_id FROM {s}.concept c WHERE c.vocabulary_id = q.vocab "
            "AND c.concept_code = q.code "
            "ORDER BY c.invalid_reason NULLS FIRST, c.valid_end_date DESC LIMIT 1))"
        )
        explicit = (
            f"CASE WHEN q.mapped THEN (SELECT json_agg({_CONCEPT_MAP_TARGET} "
            f"ORDER BY m.url, m.target_code) FROM fhir_map m JOIN {s}.concept t "
            f"ON t.concept_id = CAST(m.target_code AS integer) WHERE {explicit_where}) END"
        )
        omop = (
            f"(SELECT json_agg({_OMOP_TARGET} ORDER BY r.relationship_id, t.concept_id) "
            f"FROM {s}.concept_relationship r JOIN {s}.concept t "
            "ON t.concept_id = r.concept_id_2 WHERE r.concept_id_1 = x.concept_id "
            "AND r.relationship_id = ANY($4::text[]) AND r.invalid_reason IS NULL)"
        )
    return (
        # The columns arrive as JSON texts: asyncpg's array encoder checks every element
        # against abstract base classes, which costs more than PostgreSQL's JSON parser.
        "WITH s AS (SELECT * FROM json_to_recordset($3::json) AS s(i integer, system text, "
        "vocab text, by_id boolean, fhir boolean, maybe_unknown boolean, mapped boolean)), "
        "q AS (SELECT s.system, c.code, s.vocab, s.fhir, s.maybe_unknown, s.mapped, c.ord, "
        "CASE WHEN s.by_id AND c.code ~ '^[0-9]{1,10}$' THEN CASE WHEN "
        "CAST(c.code AS bigint) <= 2147483647 THEN CAST(c.code AS integer) END END AS cid "
        "FROM ROWS FROM (json_array_elements_text($1::json), "
        "json_array_elements_text($2::json)) WITH ORDINALITY AS c(code, si, ord) "
        "JOIN s ON s.i = CAST(c.si AS integer)), "
        "x AS MATERIALIZED (SELECT q.ord, q.system, q.code, q.fhir, q.maybe_unknown, "
        f"{concept_id} AS concept_id, {explicit} AS explicit, "
        f"q.mapped AND EXISTS (SELECT 1 FROM fhir_map m WHERE {explicit_where}) "
        # Probed in code order: neighbouring codes share index and heap pages.
        "AS has_explicit FROM (SELECT * FROM q ORDER BY q.vocab, q.code) q) "
        "SELECT coalesce(json_agg(json_build_object("
        "'system', x.system, 'code', x.code, 'status', CASE "
        "WHEN t.targets IS NOT NULL THEN 'mapped' "
        "WHEN x.concept_id IS NOT NULL OR x.has_explicit "
        "OR (x.fhir AND EXISTS (SELECT 1 FROM fhir_concept f "
        "WHERE f.url = x.system AND f.code = x.code)) THEN 'unmapped' "
        "WHEN x.maybe_unknown AND x.system NOT IN "
        "(SELECT e.system FROM x e WHERE e.has_explicit) "
        "THEN 'unknown-system' ELSE 'unknown-code' END, "
        "'source_concept_id', x.concept_id, "
        "'targets', coalesce(t.targets, CAST('[]' AS json))) ORDER BY x.ord), "
        "CAST('[]' AS json))::text "
        f"FROM x LEFT JOIN LATERAL (SELECT coalesce(x.explicit, {omop}) AS targets) t ON true"
    )


async def _driver(conn: AsyncConnection) -> Any:
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def explicit_and_fhir_systems(
    conn: AsyncConnection, systems: Sequence[str], omop_system: str
) -> tuple[set[str], set[str]]:
    """Of these systems: those some ConceptMap maps to OMOP concepts, and those that are
    stored FHIR CodeSystems (one round trip)."""
    rows = await (await _driver(conn)).fetch(
        "SELECT DISTINCT 'map', source_system FROM fhir_map WHERE source_system = ANY($1) "
        "AND target_system = $2 UNION ALL SELECT DISTINCT 'cs', url FROM fhir_resource "
        "WHERE resource_type = 'CodeSystem' AND url = ANY($1)",
        list(systems),
        omop_system,
    )
    return {r[1] for r in rows if r[0] == "map"}, {r[1] for r in rows if r[0] == "cs"}


async def translate_json(
    conn: AsyncConnection,
    schema: str | None,
    batch: BatchCodes,
    *,
    relationships: Sequence[str],
    omop_system: str,
) -> str:
    """The JSON text of the ``results`` array of a :class:`TranslateBatchResponse`."""
    systems = [
        {
            "i": i,
            "system": s.system,
            "vocab": s.vocabulary,
            "by_id": s.by_id,
            "fhir": s.fhir,
            "maybe_unknown": s.maybe_unknown,
            "mapped": s.mapped,
        }
        for i, s in enumerate(batch.systems)
    ]
    text: str = await (await _driver(conn)).fetchval(
        _statement(schema),
        orjson.dumps(batch.codes).decode(),
        orjson.dumps(batch.system_index).decode(),
        orjson.dumps(systems).decode(),
        list(relationships),
        omop_system,
    )
    return text
