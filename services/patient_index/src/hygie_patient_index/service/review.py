"""Use cases of the review queue: list and resolve (link / not a match), with who and why."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from hygie_platform.uow import UnitOfWork

from ..adapters.repository import PatientRepository
from ..adapters.review import ReviewItem, ReviewRepository
from ..domain.errors import ReviewItemClosed, ReviewItemNotFound
from .links import link_source, unlink_source

__all__ = ["get_review", "list_reviews", "resolve_review"]

Resolution = Literal["link", "not-a-match"]


async def list_reviews(
    uow: UnitOfWork, *, status: str | None = "open", limit: int = 100
) -> list[ReviewItem]:
    return await ReviewRepository(uow.connection).list(status=status, limit=limit)


async def get_review(uow: UnitOfWork, item_id: UUID) -> ReviewItem:
    item = await ReviewRepository(uow.connection).get(item_id)
    if item is None:
        raise ReviewItemNotFound(item_id)
    return item


async def resolve_review(
    uow: UnitOfWork, item_id: UUID, resolution: Resolution, *, by: str, comment: str | None = None
) -> ReviewItem:
    """``link``: the source joins the candidate (or the automatic link is confirmed);
    ``not-a-match``: they are kept apart (unlinked if linked) and never auto-linked."""
    reviews = ReviewRepository(uow.connection)
    item = await reviews.get(item_id, lock=True)
    if item is None:
        raise ReviewItemNotFound(item_id)
    if item.status != "open":
        raise ReviewItemClosed(f"review item {item_id} is already {item.status}")
    repo = PatientRepository(uow.connection)
    source = await repo.source(item.source_id)
    assert source is not None
    why = comment or f"review {item_id}"
    if resolution == "link":
        if source.golden_id != item.candidate_id:
            await link_source(uow, item.source_id, item.candidate_id, by=by, reason=why)
        status = "linked"
    else:
        if source.golden_id == item.candidate_id:
            await unlink_source(uow, item.source_id, by=by, reason=why)
        await repo.exclude(item.source_id, item.candidate_id, by=by, reason=why)
        status = "not-a-match"
    await reviews.resolve(item_id, status=status, by=by, comment=comment)
    resolved = await reviews.get(item_id)
    assert resolved is not None
    return resolved
