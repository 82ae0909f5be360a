"""Use cases on releases: activate one (announced on ``hygie.terminology.v1``), drop one."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from hygie_contracts.terminology import ReleaseActivated, VocabularyVersion
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters.expansion_store import ExpansionStore
from ..adapters.release_schema import drop_schema
from ..adapters.releases import Release, ReleaseRepository
from ..domain.errors import NotFound, UnsupportedRequest
from .catalog import Catalog
from .expand import precompute_expansions

__all__ = ["activate_release", "drop_release", "list_releases"]


async def activate_release(uow: UnitOfWorkFactory, release_id: int) -> Release:
    """Make a ready (or superseded) release the active one, atomically with its event."""
    async with uow() as u:
        repo = ReleaseRepository(u.connection)
        release = await repo.get(release_id)
        if release is None:
            raise NotFound(f"release {release_id} does not exist")
        if release.status not in ("ready", "superseded", "active"):
            raise UnsupportedRequest(f"release {release_id} is {release.status}")
        if release.status == "active":
            return release
        previous = await repo.activate(release_id)
        await ExpansionStore(u.connection).forget(release_id=release_id)
        u.record(
            ReleaseActivated(
                release_id=release.id,
                label=release.label,
                previous_release_id=previous,
                vocabularies=tuple(VocabularyVersion(**v) for v in release.vocabularies),
                concept_count=release.counts.get("concept", 0),
                relationship_count=release.counts.get("concept_relationship", 0),
                activated_at=datetime.now(UTC),
            )
        )
        activated = await repo.get(release_id)
        assert activated is not None
        # Large expansions of the stored value sets are ready before the first request.
        await precompute_expansions(Catalog(u.connection, activated))
        return activated


async def drop_release(uow: UnitOfWorkFactory, dsn: str, release_id: int) -> None:
    """Drop a release that no longer serves (never the active one)."""
    async with uow() as u:
        repo = ReleaseRepository(u.connection)
        release = await repo.get(release_id)
        if release is None:
            raise NotFound(f"release {release_id} does not exist")
        if release.status == "active":
            raise UnsupportedRequest(f"release {release_id} is active; activate another first")
        await repo.mark_dropped(release_id)
    conn = await asyncpg.connect(dsn)
    try:
        await drop_schema(conn, release.schema)
    finally:
        await conn.close()


async def list_releases(uow: UnitOfWorkFactory) -> list[Release]:
    async with uow() as u:
        return await ReleaseRepository(u.connection).list()
