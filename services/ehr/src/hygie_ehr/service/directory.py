"""Use cases on the EHR's DIRECTORY (a versioned FOLDER tree); each runs inside the
caller's unit of work. ITS-REST: one directory per EHR, created by POST, changed by PUT
and DELETE with If-Match naming its latest version."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from hygie_contracts.ehr import FolderCommitted
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import EhrRepository
from ..adapters.templates import TemplateCache
from ..adapters.versions import (
    Head,
    ObjectExists,
    StaleVersion,
    StoredVersion,
    VersionStore,
    add_folder_nodes,
)
from ..domain.ehr import Ehr
from ..domain.folder import InvalidFolder, folder_nodes, read_folder
from ..domain.versioning import Audit, VersionUid
from .archetyped import check_folder
from .compositions import Committed, _requested_id, event_audit, read_version, writable_ehr
from .errors import BadRequest, Conflict, EhrNotFound, NotFound, PreconditionFailed

__all__ = [
    "create_directory",
    "delete_directory",
    "folder_history",
    "read_directory",
    "read_folder_version",
    "update_directory",
    "versioned_folder",
]

KIND = "FOLDER"


def _checked(data: Any) -> dict[str, Any]:
    try:
        return read_folder(data)
    except InvalidFolder as exc:
        raise BadRequest(f"FOLDER {exc}") from None


async def _commit(
    uow: UnitOfWork,
    *,
    ehr: Ehr,
    vo_id: UUID,
    folder: dict[str, Any] | None,
    audit: Audit,
    expected: int | None,
    contribution_id: UUID | None,
) -> Committed:
    """Store one directory version (``folder`` None: a deletion tombstone) with its folder
    nodes, and journal ``folder.committed`` in the same transaction."""
    store = VersionStore(uow.connection)
    if contribution_id is None:
        contribution_id = uuid4()
        await store.add_contribution(
            contribution_id=contribution_id, ehr_id=ehr.ehr_id, audit=audit
        )
    version = 1 if expected is None else expected + 1
    uid = VersionUid(vo_id, audit.system_id, version)
    if folder is not None:
        folder["uid"] = {"_type": "OBJECT_VERSION_ID", "value": str(uid)}
    common: dict[str, Any] = {
        "ehr_id": ehr.ehr_id,
        "contribution_id": contribution_id,
        "audit": audit,
        "lifecycle_state": "complete" if folder is not None else "deleted",
        "data": folder,
    }
    if expected is None:
        try:
            await store.create(vo_id=vo_id, kind=KIND, **common)
        except ObjectExists:
            raise Conflict(f"a versioned object with id {vo_id} already exists") from None
        await EhrRepository(uow.connection).set_directory(ehr.ehr_id, vo_id)
    else:
        try:
            await store.append(vo_id=vo_id, expected=expected, **common)
        except StaleVersion as exc:
            latest_uid = str(VersionUid(vo_id, audit.system_id, exc.latest))
            raise PreconditionFailed(
                f"{VersionUid(vo_id, audit.system_id, expected)} is not the latest version",
                latest_uid=latest_uid,
            ) from None
    if folder is not None:
        await add_folder_nodes(
            uow.connection,
            vo_id=vo_id,
            version=version,
            ehr_id=ehr.ehr_id,
            nodes=folder_nodes(folder),
        )
    uow.record(
        FolderCommitted(
            ehr_id=ehr.ehr_id,
            version_uid=str(uid),
            preceding_version_uid=str(VersionUid(vo_id, audit.system_id, expected))
            if expected
            else None,
            contribution_id=contribution_id,
            audit=event_audit(audit),
            folder=folder,
        )
    )
    return Committed(uid, contribution_id, folder, audit.time_committed)


async def create_directory(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    data: Any,
    audit: Audit,
    templates: TemplateCache,
    contribution_id: UUID | None = None,
) -> Committed:
    """The EHR's directory (409 if it has one; after a deletion, a new version of it).
    Folders naming a template are validated against it (422)."""
    ehr = await writable_ehr(uow, ehr_id)
    folder = _checked(data)
    await check_folder(uow, folder, templates)
    if audit.change_type != "creation":
        audit = audit.with_change("creation")
    if ehr.directory_id is not None:
        head = await VersionStore(uow.connection).head(ehr.directory_id, for_update=True)
        assert head is not None
        if not head.deleted:
            raise Conflict(
                f"EHR {ehr_id} already has a directory "
                f"({VersionUid(head.vo_id, audit.system_id, head.latest_version)}): use PUT"
            )
        return await _commit(
            uow,
            ehr=ehr,
            vo_id=head.vo_id,
            folder=folder,
            audit=audit,
            expected=head.latest_version,
            contribution_id=contribution_id,
        )
    return await _commit(
        uow,
        ehr=ehr,
        vo_id=_requested_id(folder) or uuid4(),
        folder=folder,
        audit=audit,
        expected=None,
        contribution_id=contribution_id,
    )


async def _current(uow: UnitOfWork, ehr: Ehr, if_match: VersionUid, system_id: str) -> int:
    """The latest version of the directory, which ``if_match`` must name."""
    if ehr.directory_id is None:
        raise NotFound(f"EHR {ehr.ehr_id} has no directory")
    head = await VersionStore(uow.connection).head(ehr.directory_id)
    assert head is not None
    if head.deleted:
        raise NotFound(f"the directory of EHR {ehr.ehr_id} is deleted")
    if if_match.object_id != head.vo_id:
        raise BadRequest(f"If-Match {if_match} is not a version of this EHR's directory")
    if if_match.version != head.latest_version:
        latest_uid = str(VersionUid(head.vo_id, system_id, head.latest_version))
        raise PreconditionFailed(
            f"{if_match} is not the latest version ({latest_uid})", latest_uid=latest_uid
        )
    return head.latest_version


async def update_directory(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    if_match: VersionUid,
    data: Any,
    audit: Audit,
    templates: TemplateCache,
    contribution_id: UUID | None = None,
) -> Committed:
    """A new directory version replacing the whole tree (If-Match: its latest version).
    Folders naming a template are validated against it (422)."""
    ehr = await writable_ehr(uow, ehr_id)
    folder = _checked(data)
    await check_folder(uow, folder, templates)
    latest = await _current(uow, ehr, if_match, audit.system_id)
    if audit.change_type == "creation":
        audit = audit.with_change("modification")
    return await _commit(
        uow,
        ehr=ehr,
        vo_id=if_match.object_id,
        folder=folder,
        audit=audit,
        expected=latest,
        contribution_id=contribution_id,
    )


async def delete_directory(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    if_match: VersionUid,
    audit: Audit,
    contribution_id: UUID | None = None,
) -> Committed:
    """Logical deletion: a tombstone version; the history stays readable."""
    ehr = await writable_ehr(uow, ehr_id)
    latest = await _current(uow, ehr, if_match, audit.system_id)
    return await _commit(
        uow,
        ehr=ehr,
        vo_id=if_match.object_id,
        folder=None,
        audit=audit.with_change("deleted"),
        expected=latest,
        contribution_id=contribution_id,
    )


async def read_directory(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    version_uid: VersionUid | None = None,
    at: datetime | None = None,
) -> StoredVersion:
    """The latest directory version, a given one, or the one current at a time."""
    ehr = await EhrRepository(uow.connection).get(ehr_id)
    if ehr is None:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    if ehr.directory_id is None:
        raise NotFound(f"EHR {ehr_id} has no directory")
    if version_uid is not None and version_uid.object_id != ehr.directory_id:
        raise NotFound(f"{version_uid} is not a version of this EHR's directory")
    return await read_version(
        uow,
        ehr_id=ehr_id,
        vo_id=ehr.directory_id,
        kind=KIND,
        version=version_uid.version if version_uid else None,
        at=at,
    )


async def versioned_folder(uow: UnitOfWork, *, ehr_id: UUID, vo_id: UUID) -> Head:
    """The head of the EHR's VERSIONED_FOLDER (ITS-REST 1.1 ``versioned_folder``);
    ``NotFound`` when ``vo_id`` is not this EHR's directory."""
    if await EhrRepository(uow.connection).get(ehr_id) is None:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    head = await VersionStore(uow.connection).head(vo_id)
    if head is None or head.ehr_id != ehr_id or head.kind != KIND:
        raise NotFound(f"no VERSIONED_FOLDER with id {vo_id} in EHR {ehr_id}")
    return head


async def folder_history(uow: UnitOfWork, *, ehr_id: UUID, vo_id: UUID) -> list[StoredVersion]:
    """Every version of the EHR's directory, oldest first, with its audit (no data)."""
    await versioned_folder(uow, ehr_id=ehr_id, vo_id=vo_id)
    return await VersionStore(uow.connection).history(vo_id)


async def read_folder_version(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    vo_id: UUID,
    version: int | None = None,
    at: datetime | None = None,
) -> StoredVersion:
    """One version of the directory: a given one, the one current at a time, or the latest."""
    await versioned_folder(uow, ehr_id=ehr_id, vo_id=vo_id)
    return await read_version(uow, ehr_id=ehr_id, vo_id=vo_id, kind=KIND, version=version, at=at)
