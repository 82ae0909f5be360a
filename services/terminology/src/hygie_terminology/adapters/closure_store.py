"""The closure tables of ConceptMap/$closure (one row per name, its concepts, the
subsumption pairs among them)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ClosureStore"]


class ClosureStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(self, name: str) -> bool:
        """A new, empty table; False when the name is taken."""
        created = await self.conn.execute(
            text("INSERT INTO closure_table (name) VALUES (:n) ON CONFLICT DO NOTHING"),
            {"n": name},
        )
        return created.rowcount == 1

    async def lock(self, name: str) -> int | None:
        """The table's version, locked until commit (None: no such table)."""
        return (
            await self.conn.execute(
                text("SELECT version FROM closure_table WHERE name = :n FOR UPDATE"), {"n": name}
            )
        ).scalar_one_or_none()

    async def concepts(self, name: str, system: str) -> list[str]:
        rows = await self.conn.execute(
            text("SELECT code FROM closure_concept WHERE name = :n AND system = :s ORDER BY code"),
            {"n": name, "s": system},
        )
        return [r[0] for r in rows]

    async def add(
        self,
        name: str,
        version: int,
        concepts: Sequence[tuple[str, str]],
        pairs: Sequence[tuple[str, str, str]],
    ) -> None:
        """Record new concepts and (system, descendant, ancestor) pairs at ``version``."""
        for system, code in concepts:
            await self.conn.execute(
                text(
                    "INSERT INTO closure_concept (name, system, code, version) "
                    "VALUES (:n, :s, :c, :v) ON CONFLICT DO NOTHING"
                ),
                {"n": name, "s": system, "c": code, "v": version},
            )
        for system, descendant, ancestor in pairs:
            await self.conn.execute(
                text(
                    "INSERT INTO closure_entry (name, system, descendant, ancestor, version) "
                    "VALUES (:n, :s, :d, :a, :v) ON CONFLICT DO NOTHING"
                ),
                {"n": name, "s": system, "d": descendant, "a": ancestor, "v": version},
            )
        await self.conn.execute(
            text("UPDATE closure_table SET version = :v WHERE name = :n"),
            {"n": name, "v": version},
        )

    async def entries_since(self, name: str, version: int) -> list[tuple[str, str, str]]:
        """(system, descendant, ancestor) pairs added after ``version``."""
        rows = await self.conn.execute(
            text(
                "SELECT system, descendant, ancestor FROM closure_entry "
                "WHERE name = :n AND version > :v ORDER BY system, descendant, ancestor"
            ),
            {"n": name, "v": version},
        )
        return [(r[0], r[1], r[2]) for r in rows]
