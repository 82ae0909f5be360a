"""The review queue: possible duplicates waiting for a human decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import review_item

__all__ = ["ReviewItem", "ReviewRepository"]


@dataclass(frozen=True)
class ReviewItem:
    id: UUID
    source_id: UUID
    candidate_id: UUID
    score: float
    contributions: dict[str, Any]
    reason: str
    status: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    comment: str | None = None


def _item(row: Any) -> ReviewItem:
    return ReviewItem(**{k: row[k] for k in ReviewItem.__dataclass_fields__})


class ReviewRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def open(
        self,
        *,
        item_id: UUID,
        source_id: UUID,
        candidate_id: UUID,
        score: float,
        contributions: dict[str, Any],
        reason: str,
    ) -> bool:
        """Open an item; False when the same pair already has an open one."""
        done = (
            await self.conn.execute(
                insert(review_item)
                .values(
                    id=item_id,
                    source_id=source_id,
                    candidate_id=candidate_id,
                    score=score,
                    contributions=contributions,
                    reason=reason,
                )
                .on_conflict_do_nothing()
                .returning(review_item.c.id)
            )
        ).first()
        return done is not None

    async def get(self, item_id: UUID, *, lock: bool = False) -> ReviewItem | None:
        q = sa.select(review_item).where(review_item.c.id == item_id)
        if lock:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).mappings().first()
        return _item(row) if row else None

    async def list(self, *, status: str | None = "open", limit: int = 100) -> list[ReviewItem]:
        q = sa.select(review_item).order_by(review_item.c.created_at).limit(limit)
        if status:
            q = q.where(review_item.c.status == status)
        return [_item(r) for r in (await self.conn.execute(q)).mappings()]

    async def resolve(self, item_id: UUID, *, status: str, by: str, comment: str | None) -> None:
        await self.conn.execute(
            sa.update(review_item)
            .where(review_item.c.id == item_id)
            .values(
                status=status,
                resolution=status,
                resolved_by=by,
                comment=comment,
                resolved_at=sa.func.now(),
            )
        )
