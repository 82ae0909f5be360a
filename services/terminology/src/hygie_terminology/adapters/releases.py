"""The ``release`` table: which OMOP vocabulary releases exist and which one is active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import LoadProblem

__all__ = ["ACTIVE_RELEASE_SQL", "Release", "ReleaseRepository", "release_from"]


@dataclass(frozen=True)
class Release:
    id: int
    label: str
    schema: str
    status: str
    source: str
    vocabularies: list[dict[str, Any]]
    counts: dict[str, int]
    problems: list[dict[str, Any]]
    created_at: datetime
    activated_at: datetime | None


_COLUMNS = (
    "id, label, schema_name, status, source, vocabularies, counts, problems, "
    "created_at, activated_at"
)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _release(row: Any) -> Release:
    """A release from a SQLAlchemy row or an asyncpg record (JSON columns as text)."""
    get = row._mapping.__getitem__ if hasattr(row, "_mapping") else row.__getitem__
    return Release(
        id=get("id"),
        label=get("label"),
        schema=get("schema_name"),
        status=get("status"),
        source=get("source"),
        vocabularies=_json(get("vocabularies")),
        counts=_json(get("counts")),
        problems=_json(get("problems")),
        created_at=get("created_at"),
        activated_at=get("activated_at"),
    )


#: The serving release (``release_from``).
ACTIVE_RELEASE_SQL = f"SELECT {_COLUMNS} FROM release WHERE status = 'active'"


def release_from(row: Any) -> Release | None:
    return _release(row) if row is not None else None


def _problems(problems: list[LoadProblem]) -> str:
    return orjson.dumps(
        [
            {"file": p.file, "line": p.line, "reason": p.reason, "severity": p.severity}
            for p in problems
        ]
    ).decode()


class ReleaseRepository:
    """Queries and writes of ``release`` on the connection of a unit of work."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(self, *, label: str, source: str, dialect: str | None) -> Release:
        row = (
            await self.conn.execute(
                text(
                    "WITH n AS (SELECT nextval(pg_get_serial_sequence('release', 'id')) AS id) "
                    "INSERT INTO release (id, label, schema_name, status, source, dialect) "
                    "SELECT n.id, :label, 'omop_r' || n.id, 'loading', :source, :dialect FROM n "
                    f"RETURNING {_COLUMNS}"
                ),
                {"label": label, "source": source, "dialect": dialect},
            )
        ).one()
        return _release(row)

    async def finish(
        self,
        release_id: int,
        *,
        status: str,
        problems: list[LoadProblem],
        vocabularies: list[dict[str, Any]] | None = None,
        counts: dict[str, int] | None = None,
        label: str | None = None,
    ) -> None:
        await self.conn.execute(
            text(
                "UPDATE release SET status = :status, problems = CAST(:problems AS jsonb), "
                "label = coalesce(:label, label), "
                "vocabularies = CAST(:vocabularies AS jsonb), counts = CAST(:counts AS jsonb), "
                "finished_at = now() WHERE id = :id"
            ),
            {
                "id": release_id,
                "label": label,
                "status": status,
                "problems": _problems(problems),
                "vocabularies": orjson.dumps(vocabularies or []).decode(),
                "counts": orjson.dumps(counts or {}).decode(),
            },
        )

    async def get(self, release_id: int) -> Release | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {_COLUMNS} FROM release WHERE id = :id"), {"id": release_id}
            )
        ).one_or_none()
        return _release(row) if row else None

    async def active(self) -> Release | None:
        row = (await self.conn.execute(text(ACTIVE_RELEASE_SQL))).one_or_none()
        return _release(row) if row else None

    async def by_label_or_id(self, ref: str) -> Release | None:
        """A servable release (active, ready or superseded) by id or label; newest first."""
        row = (
            await self.conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM release WHERE status IN "
                    "('active', 'ready', 'superseded') AND (label = :ref OR id::text = :ref) "
                    "ORDER BY (id::text = :ref) DESC, id DESC LIMIT 1"
                ),
                {"ref": ref},
            )
        ).one_or_none()
        return _release(row) if row else None

    async def list(self) -> list[Release]:
        rows = await self.conn.execute(text(f"SELECT {_COLUMNS} FROM release ORDER BY id"))
        return [_release(r) for r in rows]

    async def activate(self, release_id: int) -> int | None:
        """Make a release the active one; return the id of the one it replaces."""
        # Lock the table's active slot so two activations serialise.
        await self.conn.execute(text("LOCK TABLE release IN SHARE ROW EXCLUSIVE MODE"))
        previous = (
            await self.conn.execute(
                text(
                    "UPDATE release SET status = 'superseded' WHERE status = 'active' "
                    "AND id <> :id RETURNING id"
                ),
                {"id": release_id},
            )
        ).scalar_one_or_none()
        await self.conn.execute(
            text("UPDATE release SET status = 'active', activated_at = now() WHERE id = :id"),
            {"id": release_id},
        )
        return previous

    async def mark_dropped(self, release_id: int) -> None:
        await self.conn.execute(
            text("UPDATE release SET status = 'dropped' WHERE id = :id"), {"id": release_id}
        )
