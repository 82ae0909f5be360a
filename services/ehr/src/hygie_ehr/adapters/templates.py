"""Operational templates: stored verbatim, parsed once per process and content hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.opt import OperationalTemplate, parse_opt
from .tables import template, versioned_object

__all__ = ["StoredTemplate", "TemplateCache", "TemplateStore"]


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    template_id: str
    uid: str | None
    concept: str
    archetype_id: str
    sha256: str
    created_at: datetime
    opt: str | None = None


class TemplateStore:
    """SQL of the template table on the unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def put(self, values: dict[str, Any], *, overwrite: bool) -> bool:
        """Insert (or overwrite); False when a template with this id already exists."""
        stmt = sa.dialects.postgresql.insert(template).values(**values)
        if overwrite:
            stmt = stmt.on_conflict_do_update(index_elements=["template_id"], set_=values)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["template_id"])
        result = await self.conn.execute(stmt.returning(template.c.template_id))
        return result.first() is not None

    async def get(self, template_id: str, *, with_opt: bool = True) -> StoredTemplate | None:
        cols = [c for c in template.c if with_opt or c.name != "opt"]
        row = (
            await self.conn.execute(sa.select(*cols).where(template.c.template_id == template_id))
        ).first()
        if row is None:
            return None
        return StoredTemplate(
            template_id=row.template_id,
            uid=row.uid,
            concept=row.concept,
            archetype_id=row.archetype_id,
            sha256=row.sha256,
            created_at=row.created_at,
            opt=row.opt if with_opt else None,
        )

    async def list(self) -> list[StoredTemplate]:
        cols = [c for c in template.c if c.name != "opt"]
        rows = (await self.conn.execute(sa.select(*cols).order_by(template.c.template_id))).all()
        return [
            StoredTemplate(
                template_id=r.template_id,
                uid=r.uid,
                concept=r.concept,
                archetype_id=r.archetype_id,
                sha256=r.sha256,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def in_use(self, template_id: str) -> bool:
        row = (
            await self.conn.execute(
                sa.select(sa.literal(1))
                .where(versioned_object.c.template_id == template_id)
                .limit(1)
            )
        ).first()
        return row is not None


class TemplateCache:
    """Parsed templates by id, checked against the stored content hash on each use so
    that an overwrite made by another replica is seen."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, OperationalTemplate]] = {}

    def cached(self, template_id: str) -> tuple[str, OperationalTemplate] | None:
        """(stored hash, parsed template) last seen, unchecked: a caller relying on it has
        the hash checked by its own statement (the commit path)."""
        return self._parsed.get(template_id)

    def remember(self, sha256: str, opt: OperationalTemplate) -> None:
        self._parsed[opt.template_id] = (sha256, opt)

    async def get(
        self, conn: AsyncConnection, template_id: str, *, sha256: str | None = None
    ) -> OperationalTemplate | None:
        """The parsed template; ``sha256``: its stored hash when the caller already read it
        (the commit path reads it with the EHR, saving a round trip)."""
        sha = (
            sha256
            or (
                await conn.execute(
                    sa.select(template.c.sha256).where(template.c.template_id == template_id)
                )
            ).scalar_one_or_none()
        )
        if sha is None:
            return None
        cached = self._parsed.get(template_id)
        if cached and cached[0] == sha:
            return cached[1]
        stored = await TemplateStore(conn).get(template_id)
        assert stored is not None
        assert stored.opt is not None
        parsed = parse_opt(stored.opt.encode())
        self._parsed[template_id] = (sha, parsed)
        return parsed
