"""Erasing an EHR from the store: every row of its clinical content, and the tombstone kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import (
    contribution,
    ehr,
    ehr_erasure,
    ehr_link,
    entry,
    folder_item,
    folder_node,
    object_version,
    versioned_object,
)

__all__ = ["ErasureStore", "Tombstone"]


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is left of an erased EHR."""

    ehr_id: UUID
    erased_at: datetime
    requested_by: str
    reason: str
    removed: dict[str, int]


class ErasureStore:
    """Deletes an EHR's rows table by table, children first (one transaction: the caller's)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock(self, ehr_id: UUID) -> bool:
        """Lock the EHR row against concurrent commits; False when there is no such EHR."""
        row = await self.conn.execute(
            sa.select(ehr.c.ehr_id).where(ehr.c.ehr_id == ehr_id).with_for_update()
        )
        return row.first() is not None

    async def erase(
        self, ehr_id: UUID, *, erased_at: datetime, requested_by: str, reason: str
    ) -> Tombstone:
        """Remove every row of the EHR and write its tombstone; returns what was removed."""
        own_objects = sa.select(versioned_object.c.vo_id).where(versioned_object.c.ehr_id == ehr_id)
        removed: dict[str, int] = {}
        steps: list[tuple[str, sa.Delete]] = [
            ("folder_items", folder_item.delete().where(folder_item.c.ehr_id == ehr_id)),
            ("folder_nodes", folder_node.delete().where(folder_node.c.ehr_id == ehr_id)),
            ("entries", entry.delete().where(entry.c.ehr_id == ehr_id)),
            (
                "versions",
                object_version.delete().where(object_version.c.vo_id.in_(own_objects)),
            ),
        ]
        for name, statement in steps:
            removed[name] = (await self.conn.execute(statement)).rowcount
        kinds = await self.conn.execute(
            versioned_object.delete()
            .where(versioned_object.c.ehr_id == ehr_id)
            .returning(versioned_object.c.kind)
        )
        objects = [k for (k,) in kinds]
        removed["compositions"] = objects.count("COMPOSITION")
        removed["folders"] = objects.count("FOLDER")
        removed["ehr_statuses"] = objects.count("EHR_STATUS")
        removed["contributions"] = (
            await self.conn.execute(contribution.delete().where(contribution.c.ehr_id == ehr_id))
        ).rowcount
        removed["merge_links"] = (
            await self.conn.execute(ehr_link.delete().where(ehr_link.c.ehr_id == ehr_id))
        ).rowcount
        gone = await self.conn.execute(
            ehr.delete()
            .where(ehr.c.ehr_id == ehr_id)
            .returning(ehr.c.system_id, ehr.c.time_created)
        )
        system_id, time_created = gone.one()
        await self.conn.execute(
            ehr_erasure.insert().values(
                ehr_id=ehr_id,
                system_id=system_id,
                time_created=time_created,
                erased_at=erased_at,
                requested_by=requested_by,
                reason=reason,
                removed=removed,
            )
        )
        return Tombstone(ehr_id, erased_at, requested_by, reason, removed)

    async def tombstone(self, ehr_id: UUID) -> Tombstone | None:
        """The tombstone of an erased EHR, None when it was never erased."""
        row = (
            (await self.conn.execute(ehr_erasure.select().where(ehr_erasure.c.ehr_id == ehr_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return Tombstone(
            row["ehr_id"], row["erased_at"], row["requested_by"], row["reason"], row["removed"]
        )
