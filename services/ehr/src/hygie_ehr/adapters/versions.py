"""The versioned store: contributions, versioned-object heads and their versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hygie_contracts import PartyRef
from hygie_platform.uow import driver_of

from ..domain.entries import ArchetypedNode
from ..domain.folder import FolderNode
from ..domain.versioning import Audit
from .prepared import CREATE_COMPOSITION, READ_VERSION
from .tables import (
    contribution,
    entry,
    folder_item,
    folder_node,
    object_version,
    versioned_object,
)

__all__ = [
    "Head",
    "ObjectExists",
    "StaleVersion",
    "StoredVersion",
    "VersionRead",
    "VersionStore",
    "add_folder_nodes",
]


@dataclass(frozen=True, slots=True)
class Head:
    """A versioned object's head row."""

    vo_id: UUID
    ehr_id: UUID
    kind: str
    time_created: datetime
    latest_version: int
    deleted: bool
    template_id: str | None


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One ORIGINAL_VERSION as stored."""

    vo_id: UUID
    version: int
    ehr_id: UUID
    contribution_id: UUID
    time_committed: datetime
    committer: dict[str, Any]
    change_type: str
    description: str | None
    lifecycle_state: str
    template_id: str | None
    data: dict[str, Any] | None


class ObjectExists(Exception):
    """A versioned object with this id already exists."""


class StaleVersion(Exception):
    """The object's latest version is not the one the caller based its change on."""

    def __init__(self, latest: int) -> None:
        super().__init__(f"latest version is {latest}")
        self.latest = latest


@dataclass(frozen=True, slots=True)
class VersionRead:
    """What :meth:`VersionStore.read` found: the EHR (and its subject), the object in it,
    and the version (None when the object has no such version)."""

    ehr_found: bool
    subject_namespace: str | None
    subject_id: str | None
    object_found: bool
    version: StoredVersion | None


def _version(row: Any) -> StoredVersion:
    return StoredVersion(
        vo_id=row.vo_id,
        version=row.version,
        ehr_id=row.ehr_id,
        contribution_id=row.contribution_id,
        time_committed=row.time_committed,
        committer=row.committer,
        change_type=row.change_type,
        description=row.description,
        lifecycle_state=row.lifecycle_state,
        template_id=row.template_id,
        data=row.data,
    )


class VersionStore:
    """SQL of the versioned store, on the unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_contribution(self, *, contribution_id: UUID, ehr_id: UUID, audit: Audit) -> None:
        await self.conn.execute(
            contribution.insert().values(
                contribution_id=contribution_id,
                ehr_id=ehr_id,
                system_id=audit.system_id,
                time_committed=audit.time_committed,
                committer=audit.committer,
                change_type=audit.change_type,
                description=audit.description,
            )
        )

    async def create(
        self,
        *,
        vo_id: UUID,
        ehr_id: UUID,
        kind: str,
        contribution_id: UUID,
        audit: Audit,
        lifecycle_state: str,
        data: dict[str, Any],
        template_id: str | None = None,
    ) -> None:
        """A new versioned object with its version 1 (``ObjectExists`` if the id is taken)."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    versioned_object.insert().values(
                        vo_id=vo_id,
                        ehr_id=ehr_id,
                        kind=kind,
                        time_created=audit.time_committed,
                        latest_version=1,
                        template_id=template_id,
                    )
                )
        except IntegrityError:
            raise ObjectExists(str(vo_id)) from None
        await self._insert_version(
            vo_id, 1, ehr_id, contribution_id, audit, lifecycle_state, data, template_id
        )

    async def create_composition(
        self,
        *,
        vo_id: UUID,
        ehr_id: UUID,
        contribution_id: UUID,
        own_contribution: bool,
        audit: Audit,
        lifecycle_state: str,
        data: dict[str, Any],
        template_id: str,
        template_sha256: str,
        nodes: Sequence[ArchetypedNode],
    ) -> tuple[bool, PartyRef | None]:
        """What ``add_contribution`` + ``create`` + ``add_entries`` write for a new
        composition, in one round trip (the commit hot path), if the EHR exists, is
        modifiable and the template still has the hash validated against: (True, the EHR's
        subject); else (False, None) and nothing written. ``ObjectExists`` if the id is
        taken."""
        driver = await driver_of(self.conn)
        row = await driver.fetchrow(
            CREATE_COMPOSITION,
            contribution_id,
            ehr_id,
            audit.system_id,
            audit.time_committed,
            orjson.dumps(audit.committer).decode(),
            audit.change_type,
            audit.description,
            own_contribution,
            vo_id,
            template_id,
            lifecycle_state,
            data.get("archetype_node_id"),
            orjson.dumps(data).decode(),
            orjson.dumps(
                [
                    {
                        "ord": i,
                        "archetype_id": n.archetype_id,
                        "rm_type": n.rm_type,
                        "path": n.path,
                        "json_path": n.json_path,
                    }
                    for i, n in enumerate(nodes)
                ]
            ).decode(),
            template_sha256,
        )
        assert row is not None
        if not row["is_modifiable"]:
            return False, None
        if not row["created"]:
            raise ObjectExists(str(vo_id))
        if row["subject_id"] is None:
            return True, None
        return True, PartyRef(namespace=row["subject_namespace"], id=row["subject_id"])

    async def append(
        self,
        *,
        vo_id: UUID,
        expected: int,
        ehr_id: UUID,
        contribution_id: UUID,
        audit: Audit,
        lifecycle_state: str,
        data: dict[str, Any] | None,
        template_id: str | None = None,
    ) -> int:
        """Add the version after ``expected`` — compare-and-set on the head, so two writers
        based on the same version cannot both succeed (ITS-REST: If-Match)."""
        row = (
            await self.conn.execute(
                versioned_object.update()
                .where(
                    versioned_object.c.vo_id == vo_id, versioned_object.c.latest_version == expected
                )
                .values(latest_version=expected + 1, deleted=data is None)
                .returning(versioned_object.c.latest_version)
            )
        ).first()
        if row is None:
            head = await self.head(vo_id)
            raise StaleVersion(head.latest_version if head else 0)
        version = int(row[0])
        await self._insert_version(
            vo_id, version, ehr_id, contribution_id, audit, lifecycle_state, data, template_id
        )
        return version

    async def _insert_version(
        self,
        vo_id: UUID,
        version: int,
        ehr_id: UUID,
        contribution_id: UUID,
        audit: Audit,
        lifecycle_state: str,
        data: dict[str, Any] | None,
        template_id: str | None,
    ) -> None:
        await self.conn.execute(
            object_version.insert().values(
                vo_id=vo_id,
                version=version,
                ehr_id=ehr_id,
                contribution_id=contribution_id,
                time_committed=audit.time_committed,
                committer=audit.committer,
                change_type=audit.change_type,
                description=audit.description,
                lifecycle_state=lifecycle_state,
                template_id=template_id,
                archetype_node_id=(data or {}).get("archetype_node_id"),
                data=data,
            )
        )

    async def add_entries(
        self,
        *,
        vo_id: UUID,
        version: int,
        ehr_id: UUID,
        template_id: str | None,
        nodes: Sequence[ArchetypedNode],
    ) -> None:
        if not nodes:
            return
        await self.conn.execute(
            entry.insert(),
            [
                {
                    "vo_id": vo_id,
                    "version": version,
                    "ord": i,
                    "ehr_id": ehr_id,
                    "template_id": template_id,
                    "archetype_id": n.archetype_id,
                    "rm_type": n.rm_type,
                    "path": n.path,
                    "json_path": list(n.json_path),
                }
                for i, n in enumerate(nodes)
            ],
        )

    async def read(
        self,
        *,
        ehr_id: UUID,
        vo_id: UUID,
        kind: str,
        version: int | None = None,
        at: datetime | None = None,
    ) -> VersionRead:
        """A version with the checks of a read, in one round trip (``READ_VERSION``)."""
        driver = await driver_of(self.conn)
        row = await driver.fetchrow(READ_VERSION, ehr_id, vo_id, kind, version, at)
        assert row is not None
        found = None
        if row["vo_id"] is not None:
            data = row["data"]
            found = StoredVersion(
                vo_id=row["vo_id"],
                version=row["version"],
                ehr_id=row["ehr_id"],
                contribution_id=row["contribution_id"],
                time_committed=row["time_committed"],
                committer=orjson.loads(row["committer"]),
                change_type=row["change_type"],
                description=row["description"],
                lifecycle_state=row["lifecycle_state"],
                template_id=row["template_id"],
                data=orjson.loads(data) if data is not None else None,
            )
        return VersionRead(
            ehr_found=row["ehr_found"],
            subject_namespace=row["subject_namespace"],
            subject_id=row["subject_id"],
            object_found=row["object_found"],
            version=found,
        )

    async def head(self, vo_id: UUID, *, for_update: bool = False) -> Head | None:
        query = versioned_object.select().where(versioned_object.c.vo_id == vo_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return Head(
            vo_id=row.vo_id,
            ehr_id=row.ehr_id,
            kind=row.kind,
            time_created=row.time_created,
            latest_version=row.latest_version,
            deleted=row.deleted,
            template_id=row.template_id,
        )

    async def version(self, vo_id: UUID, version: int) -> StoredVersion | None:
        row = (
            await self.conn.execute(
                object_version.select().where(
                    object_version.c.vo_id == vo_id, object_version.c.version == version
                )
            )
        ).first()
        return _version(row) if row else None

    async def version_at(self, vo_id: UUID, at: datetime) -> StoredVersion | None:
        """The version that was current at ``at`` (ITS-REST: version_at_time)."""
        row = (
            await self.conn.execute(
                object_version.select()
                .where(object_version.c.vo_id == vo_id, object_version.c.time_committed <= at)
                .order_by(object_version.c.version.desc())
                .limit(1)
            )
        ).first()
        return _version(row) if row else None

    async def history(self, vo_id: UUID) -> list[StoredVersion]:
        """Every version's audit, oldest first (data left out)."""
        cols = [c for c in object_version.c if c.name != "data"]
        rows = (
            await self.conn.execute(
                sa.select(*cols, sa.null().label("data"))
                .where(object_version.c.vo_id == vo_id)
                .order_by(object_version.c.version)
            )
        ).all()
        return [_version(r) for r in rows]

    async def contribution(self, contribution_id: UUID) -> tuple[Any, list[Any]] | None:
        row = (
            await self.conn.execute(
                contribution.select().where(contribution.c.contribution_id == contribution_id)
            )
        ).first()
        if row is None:
            return None
        versions = (
            await self.conn.execute(
                sa.select(
                    object_version.c.vo_id, object_version.c.version, object_version.c.change_type
                )
                .where(object_version.c.contribution_id == contribution_id)
                .order_by(object_version.c.vo_id, object_version.c.version)
            )
        ).all()
        return row, list(versions)


async def add_folder_nodes(
    conn: AsyncConnection,
    *,
    vo_id: UUID,
    version: int,
    ehr_id: UUID,
    nodes: Sequence[FolderNode],
) -> None:
    """The folders and items of one directory version (multi-row inserts)."""
    if not nodes:
        return
    await conn.execute(
        folder_node.insert(),
        [
            {
                "vo_id": vo_id,
                "version": version,
                "ord": n.ord,
                "last_ord": n.last_ord,
                "parent_ord": n.parent_ord,
                "depth": n.depth,
                "ehr_id": ehr_id,
                "name": n.name,
                "archetype_node_id": n.archetype_node_id,
                "uid": n.uid,
                "path": n.path,
                "json_path": list(n.json_path),
            }
            for n in nodes
        ],
    )
    items = [
        {
            "vo_id": vo_id,
            "version": version,
            "node_ord": n.ord,
            "pos": it.pos,
            "ehr_id": ehr_id,
            "item_id": it.item_id,
            "composition_id": it.composition_id,
            "item_version": it.item_version,
            "namespace": it.namespace,
            "type": it.type,
        }
        for n in nodes
        for it in n.items
    ]
    if items:
        await conn.execute(folder_item.insert(), items)
