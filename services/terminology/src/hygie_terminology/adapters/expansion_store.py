"""Materialised expansions: the ordered members of a large expansion, paged by position
instead of re-sorting the whole set on every page (Snowstorm and Ontoserver likewise keep
expansions of large value sets)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ExpansionStore"]


class ExpansionStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def find(self, key: str) -> tuple[int, int] | None:
        """``(expansion id, total)`` of a materialised expansion."""
        row = (
            await self.conn.execute(
                text("SELECT id, total FROM expansion WHERE key = :k"), {"k": key}
            )
        ).one_or_none()
        return (row[0], row[1]) if row else None

    async def page(self, expansion_id: int, *, count: int, offset: int) -> list[Any]:
        return list(
            await self.conn.execute(
                text(
                    "SELECT system, code, display, concept_id, inactive FROM expansion_member "
                    "WHERE expansion_id = :e AND ord > :lo AND ord <= :hi ORDER BY ord"
                ),
                {"e": expansion_id, "lo": offset, "hi": offset + count},
            )
        )

    async def materialise(
        self, key: str, release_id: int | None, members_sql: str, params: dict[str, Any]
    ) -> tuple[int, int] | None:
        """Store the members in expansion order; None when another request won the race."""
        created = (
            await self.conn.execute(
                text(
                    "INSERT INTO expansion (key, release_id, total) VALUES (:k, :r, 0) "
                    "ON CONFLICT (key) DO NOTHING RETURNING id"
                ),
                {"k": key, "r": release_id},
            )
        ).scalar_one_or_none()
        if created is None:
            return None
        inserted = await self.conn.execute(
            text(
                "INSERT INTO expansion_member (expansion_id, ord, system, code, display, "
                "concept_id, inactive) SELECT :e, row_number() OVER (ORDER BY m.system, m.code), "
                f"m.system, m.code, m.display, m.concept_id, m.inactive FROM ({members_sql}) m"
            ),
            {**params, "e": created},
        )
        total = inserted.rowcount
        await self.conn.execute(
            text("UPDATE expansion SET total = :t WHERE id = :e"), {"t": total, "e": created}
        )
        return created, total

    async def forget(self, *, all_releases: bool = False, release_id: int | None = None) -> None:
        """Drop materialised expansions that may be stale."""
        if all_releases:
            await self.conn.execute(text("DELETE FROM expansion"))
        else:
            await self.conn.execute(
                text("DELETE FROM expansion WHERE release_id IS DISTINCT FROM :r"),
                {"r": release_id},
            )
