"""Queries on one OMOP vocabulary release (its schema), for the terminology operations."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.concepts import CONCEPT_COLUMNS, Concept, concept_at

__all__ = ["Details", "VocabularyRepository", "concept_details"]


def _json(value: Any) -> list[list[Any]]:
    """A json_agg result: decoded by the driver's codec, or text, or NULL."""
    if value is None:
        return []
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return [list(item) for item in decoded]


def _concept_from_json(values: list[object]) -> Concept:
    """A concept from ``json_build_array`` values (dates arrive as ISO strings)."""
    v = list(values)
    v[7], v[8] = date.fromisoformat(str(v[7])), date.fromisoformat(str(v[8]))
    return Concept(*v)  # type: ignore[arg-type]


_TARGET_COLUMNS = ", ".join(f"t.{c.strip()}" for c in CONCEPT_COLUMNS.split(","))
# Hierarchy of OMOP: "Is a" points from a concept to its direct parents.
IS_A = "Is a"
SUBSUMES = "Subsumes"


#: A concept, its synonyms (name, language concept name) and its related concepts.
Details = tuple[Concept, list[tuple[str, str | None]], list[tuple[str, Concept]]]
_SOURCE_COLUMNS = ", ".join(f"c.{c.strip()}" for c in CONCEPT_COLUMNS.split(","))


def _details_sql(schema: str, *, by_id: bool) -> str:
    where = "c.concept_id = $1" if by_id else "c.vocabulary_id = $3 AND c.concept_code = $1"
    return (
        f"SELECT {_SOURCE_COLUMNS}, "
        "(SELECT json_agg(json_build_array(s.concept_synonym_name, l.concept_name) "
        "ORDER BY s.language_concept_id, s.concept_synonym_name) "
        f"FROM {schema}.concept_synonym s LEFT JOIN {schema}.concept l "
        "ON l.concept_id = s.language_concept_id WHERE s.concept_id = c.concept_id)::text, "
        f"(SELECT json_agg(json_build_array(r.relationship_id, {_TARGET_COLUMNS}) "
        "ORDER BY r.relationship_id, t.concept_id) "
        f"FROM {schema}.concept_relationship r "
        f"JOIN {schema}.concept t ON t.concept_id = r.concept_id_2 "
        "WHERE r.concept_id_1 = c.concept_id AND r.invalid_reason IS NULL "
        f"AND r.relationship_id = ANY($2::text[]))::text FROM {schema}.concept c WHERE {where} "
        "ORDER BY c.invalid_reason NULLS FIRST, c.valid_end_date DESC LIMIT 1"
    )


async def concept_details(
    fetchrow: Callable[..., Awaitable[Any]],
    schema: str,
    *,
    vocabulary_id: str | None,
    code: str,
    relationships: Sequence[str],
) -> Details | None:
    """$lookup's one query: a concept by code (by concept id when ``vocabulary_id`` is
    None) with its synonyms and its valid relationships of the given kinds."""
    if vocabulary_id is None:
        if not code.isdigit() or int(code) > 2**31 - 1:
            return None
        row = await fetchrow(_details_sql(schema, by_id=True), int(code), list(relationships))
    else:
        row = await fetchrow(
            _details_sql(schema, by_id=False), code, list(relationships), vocabulary_id
        )
    if row is None:
        return None
    synonyms = [(str(name), lang) for name, lang in _json(row[10]) if name]
    related = [(str(item[0]), _concept_from_json(item[1:])) for item in _json(row[11])]
    return concept_at(row), synonyms, related


class VocabularyRepository:
    """Read access to the release in ``schema`` on a connection."""

    def __init__(self, conn: AsyncConnection, schema: str) -> None:
        self.conn = conn
        self.s = schema

    async def by_code(self, vocabulary_id: str, code: str) -> Concept | None:
        """The concept of a code (a valid one first when a code was reused)."""
        row = (
            await self.conn.execute(
                text(
                    f"SELECT {CONCEPT_COLUMNS} FROM {self.s}.concept WHERE vocabulary_id = :v "
                    "AND concept_code = :c ORDER BY invalid_reason NULLS FIRST, "
                    "valid_end_date DESC LIMIT 1"
                ),
                {"v": vocabulary_id, "c": code},
            )
        ).one_or_none()
        return concept_at(row) if row else None

    async def by_id(self, concept_id: int) -> Concept | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {CONCEPT_COLUMNS} FROM {self.s}.concept WHERE concept_id = :i"),
                {"i": concept_id},
            )
        ).one_or_none()
        return concept_at(row) if row else None

    async def _fetch(self, sql: str, *args: object) -> list[Any]:
        """Rows straight from asyncpg on the unit of work's connection (batch paths:
        SQLAlchemy's row layer costs more than the query on 10,000+ rows)."""
        raw = await self.conn.get_raw_connection()
        driver: Any = raw.driver_connection
        return list(await driver.fetch(sql, *args))

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Concept]:
        if not ids:
            return {}
        rows = await self._fetch(
            f"SELECT {CONCEPT_COLUMNS} FROM {self.s}.concept WHERE concept_id = ANY($1::integer[])",
            list(ids),
        )
        return {c.concept_id: c for c in map(concept_at, rows)}

    async def related(
        self, ids: Sequence[int], relationships: Sequence[str]
    ) -> dict[int, list[tuple[str, Concept]]]:
        """Valid relationships of these concepts to others: ``{id: [(relationship, target)]}``."""
        out: dict[int, list[tuple[str, Concept]]] = defaultdict(list)
        if not ids:
            return out
        rows = await self._fetch(
            f"SELECT r.concept_id_1, r.relationship_id, {_TARGET_COLUMNS} "
            f"FROM {self.s}.concept_relationship r "
            f"JOIN {self.s}.concept t ON t.concept_id = r.concept_id_2 "
            "WHERE r.concept_id_1 = ANY($1::integer[]) "
            "AND r.relationship_id = ANY($2::text[]) AND r.invalid_reason IS NULL "
            "ORDER BY r.concept_id_1, r.relationship_id, t.concept_id",
            list(ids),
            list(relationships),
        )
        for row in rows:
            out[row[0]].append((row[1], concept_at(row, 2)))
        return out

    async def details(
        self, *, vocabulary_id: str | None, code: str, relationships: Sequence[str]
    ) -> Details | None:
        """A concept with its synonyms and its valid relationships (one round trip)."""
        raw = await self.conn.get_raw_connection()
        return await concept_details(
            raw.driver_connection.fetchrow,
            self.s,
            vocabulary_id=vocabulary_id,
            code=code,
            relationships=relationships,
        )

    async def has_ancestry(self) -> bool:
        """Whether CONCEPT_ANCESTOR was delivered (vocabulary shards may lack it)."""
        return bool(
            await self.conn.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {self.s}.concept_ancestor)"))
        )

    async def subsumes(self, ancestor: int, descendant: int) -> bool:
        """``ancestor`` subsumes ``descendant`` (CONCEPT_ANCESTOR; without it, the
        transitive closure of "Is a")."""
        if await self.has_ancestry():
            sql = (
                f"SELECT EXISTS (SELECT 1 FROM {self.s}.concept_ancestor "
                "WHERE ancestor_concept_id = :a AND descendant_concept_id = :d)"
            )
        else:
            sql = (
                f"WITH RECURSIVE up(id) AS (SELECT CAST(:d AS integer) UNION "
                f"SELECT r.concept_id_2 FROM {self.s}.concept_relationship r JOIN up "
                f"ON r.concept_id_1 = up.id WHERE r.relationship_id = '{IS_A}' "
                "AND r.invalid_reason IS NULL) SELECT EXISTS (SELECT 1 FROM up WHERE id = :a)"
            )
        return bool(await self.conn.scalar(text(sql), {"a": ancestor, "d": descendant}))

    def descendants_sql(self, *, ancestry: bool, include_self: bool, param: str) -> str:
        """SQL selecting the concept ids under the concept id bound to ``:param``."""
        if ancestry:
            level = "" if include_self else " AND min_levels_of_separation > 0"
            return (
                f"SELECT descendant_concept_id FROM {self.s}.concept_ancestor "
                f"WHERE ancestor_concept_id = :{param}{level}"
            )
        start = f"SELECT CAST(:{param} AS integer)"
        closure = (
            f"WITH RECURSIVE down(id) AS ({start} UNION SELECT r.concept_id_1 "
            f"FROM {self.s}.concept_relationship r JOIN down ON r.concept_id_2 = down.id "
            f"WHERE r.relationship_id = '{IS_A}' AND r.invalid_reason IS NULL) "
            "SELECT id FROM down"
        )
        return closure if include_self else f"{closure} WHERE id <> :{param}"
