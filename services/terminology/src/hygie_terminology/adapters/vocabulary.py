"""Queries on one OMOP vocabulary release (its schema), for the terminology operations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.concepts import CONCEPT_COLUMNS, Concept, concept_from_row

__all__ = ["VocabularyRepository"]

_TARGET_COLUMNS = ", ".join(f"t.{c.strip()} AS t_{c.strip()}" for c in CONCEPT_COLUMNS.split(","))
# Hierarchy of OMOP: "Is a" points from a concept to its direct parents.
IS_A = "Is a"
SUBSUMES = "Subsumes"


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
        return concept_from_row(row) if row else None

    async def by_id(self, concept_id: int) -> Concept | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {CONCEPT_COLUMNS} FROM {self.s}.concept WHERE concept_id = :i"),
                {"i": concept_id},
            )
        ).one_or_none()
        return concept_from_row(row) if row else None

    async def by_codes(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Concept]:
        """Many ``(vocabulary_id, code)`` at once (one round trip)."""
        if not pairs:
            return {}
        rows = await self.conn.execute(
            text(
                f"SELECT DISTINCT ON (c.vocabulary_id, c.concept_code) {CONCEPT_COLUMNS} "
                f"FROM {self.s}.concept c JOIN unnest(CAST(:v AS text[]), CAST(:c AS text[])) "
                "AS q(v, c) ON c.vocabulary_id = q.v AND c.concept_code = q.c "
                "ORDER BY c.vocabulary_id, c.concept_code, c.invalid_reason NULLS FIRST, "
                "c.valid_end_date DESC"
            ),
            {"v": [p[0] for p in pairs], "c": [p[1] for p in pairs]},
        )
        out = {}
        for row in rows:
            concept = concept_from_row(row)
            out[(concept.vocabulary_id, concept.concept_code)] = concept
        return out

    async def by_ids(self, ids: Sequence[int]) -> dict[int, Concept]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            text(
                f"SELECT {CONCEPT_COLUMNS} FROM {self.s}.concept "
                "WHERE concept_id = ANY(CAST(:ids AS integer[]))"
            ),
            {"ids": list(ids)},
        )
        return {c.concept_id: c for c in map(concept_from_row, rows)}

    async def related(
        self, ids: Sequence[int], relationships: Sequence[str]
    ) -> dict[int, list[tuple[str, Concept]]]:
        """Valid relationships of these concepts to others: ``{id: [(relationship, target)]}``."""
        out: dict[int, list[tuple[str, Concept]]] = defaultdict(list)
        if not ids:
            return out
        rows = await self.conn.execute(
            text(
                f"SELECT r.concept_id_1, r.relationship_id, {_TARGET_COLUMNS} "
                f"FROM {self.s}.concept_relationship r "
                f"JOIN {self.s}.concept t ON t.concept_id = r.concept_id_2 "
                "WHERE r.concept_id_1 = ANY(CAST(:ids AS integer[])) "
                "AND r.relationship_id = ANY(CAST(:rels AS text[])) AND r.invalid_reason IS NULL "
                "ORDER BY r.concept_id_1, r.relationship_id, t.concept_id"
            ),
            {"ids": list(ids), "rels": list(relationships)},
        )
        for row in rows:
            out[row.concept_id_1].append((row.relationship_id, concept_from_row(row, "t_")))
        return out

    async def synonyms(self, concept_id: int) -> list[tuple[str, int]]:
        rows = await self.conn.execute(
            text(
                f"SELECT concept_synonym_name, language_concept_id FROM {self.s}.concept_synonym "
                "WHERE concept_id = :i ORDER BY language_concept_id, concept_synonym_name"
            ),
            {"i": concept_id},
        )
        return [(r[0], r[1]) for r in rows]

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
