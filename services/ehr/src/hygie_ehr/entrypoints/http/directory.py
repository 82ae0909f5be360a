"""ITS-REST DIRECTORY endpoints: the EHR's versioned FOLDER tree."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from hygie_platform.access import record_access
from hygie_platform.http import Problem
from hygie_platform.uow import UnitOfWork

from ...adapters.versions import StoredVersion
from ...domain.folder import sub_folder
from ...domain.versioning import VersionUid
from ...service.compositions import Committed
from ...service.directory import (
    create_directory,
    delete_directory,
    folder_history,
    read_directory,
    read_folder_version,
    update_directory,
    versioned_folder,
)
from ...service.query import patients_of
from .common import (
    Reader,
    Writer,
    audit_of,
    document_response,
    json_response,
    mapped_errors,
    original_version,
    parse_object_ref,
    parse_time,
    parse_uuid,
    parse_version_uid,
    prefer,
    read_body,
    revision_history,
    uow,
    version_headers,
    versioned_object,
)

router = APIRouter(prefix="/openehr/v1/ehr/{ehr_id}", tags=["DIRECTORY"])


def _answer(request: Request, ehr_id: str, done: Committed, status: int) -> Response:
    location = str(request.url_for("get_directory_version", ehr_id=ehr_id, version_uid=done.uid))
    headers = version_headers(str(done.uid), done.time_committed, location)
    mode = prefer(request)
    if mode == "representation" and done.data is not None:
        return document_response(request, done.data, status=status, headers=headers)
    if mode == "identifier":
        return json_response({"uid": {"value": str(done.uid)}}, status=status, headers=headers)
    return Response(status_code=status if status != 200 else 204, headers=headers)


@router.post("/directory", status_code=201)
async def post_directory(ehr_id: str, request: Request, principal: Writer) -> Response:
    """Create the EHR's directory (409 when it has one)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    data = await read_body(request)
    audit = audit_of(request, principal, default_change="creation")
    with mapped_errors():
        async with uow(request)() as u:
            done = await create_directory(
                u, ehr_id=ehr_uuid, data=data, audit=audit, templates=request.app.state.templates
            )
    return _answer(request, ehr_id, done, 201)


@router.put("/directory")
async def put_directory(ehr_id: str, request: Request, principal: Writer) -> Response:
    """Replace the directory tree (If-Match: its latest version uid; stale → 412)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    if_match = parse_version_uid(request.headers.get("if-match"), "If-Match")
    data = await read_body(request)
    audit = audit_of(request, principal, default_change="modification")
    with mapped_errors():
        async with uow(request)() as u:
            done = await update_directory(
                u,
                ehr_id=ehr_uuid,
                if_match=if_match,
                data=data,
                audit=audit,
                templates=request.app.state.templates,
            )
    return _answer(request, ehr_id, done, 200)


@router.delete("/directory")
async def delete_directory_route(ehr_id: str, request: Request, principal: Writer) -> Response:
    """Logically delete the directory (If-Match: its latest version uid)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    if_match = parse_version_uid(request.headers.get("if-match"), "If-Match")
    audit = audit_of(request, principal, default_change="deleted")
    with mapped_errors():
        async with uow(request)() as u:
            done = await delete_directory(u, ehr_id=ehr_uuid, if_match=if_match, audit=audit)
    return Response(status_code=204, headers=version_headers(str(done.uid), done.time_committed))


async def _read(
    request: Request, ehr_id: str, *, uid: VersionUid | None = None, at: str | None = None
) -> StoredVersion:
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    when = parse_time(at)
    with mapped_errors():
        async with uow(request)() as u:
            found = await read_directory(u, ehr_id=ehr_uuid, version_uid=uid, at=when)
            for patient in await patients_of(u, (ehr_uuid,)):
                await record_access(
                    u, request, patient=patient, resource=f"Directory/{ehr_id}", action="read"
                )
            return found


def _folder(request: Request, v: StoredVersion, path: str | None) -> Response:
    uid = str(VersionUid(v.vo_id, request.app.state.system_id, v.version))
    headers = version_headers(uid, v.time_committed)
    if v.data is None:  # a deleted directory (ITS-REST: as a deleted composition)
        return Response(status_code=204, headers=headers)
    folder = sub_folder(v.data, path) if path else v.data
    if folder is None:
        raise Problem(404, "not-found", f"no folder at path {path!r} in the directory")
    return document_response(request, folder, headers=headers)


@router.get("/directory")
async def get_directory(
    ehr_id: str,
    request: Request,
    principal: Reader,
    version_at_time: str | None = None,
    path: str | None = None,
) -> Response:
    """The directory (latest, or at a time); ``path`` selects a sub-folder by names."""
    v = await _read(request, ehr_id, at=version_at_time)
    return _folder(request, v, path)


@router.get("/directory/{version_uid}", name="get_directory_version")
async def get_directory_version(
    ehr_id: str, version_uid: str, request: Request, principal: Reader, path: str | None = None
) -> Response:
    """One directory version by its uid; ``path`` selects a sub-folder by names."""
    uid = parse_version_uid(version_uid, "version_uid")
    v = await _read(request, ehr_id, uid=uid)
    return _folder(request, v, path)


# --- ITS-REST 1.1: VERSIONED_FOLDER --------------------------------------------------------
async def _audit(u: UnitOfWork, request: Request, ehr_id: UUID, what: str) -> None:
    """The access event of a read of the directory's versions (in the read's transaction)."""
    for patient in await patients_of(u, (ehr_id,)):
        await record_access(u, request, patient=patient, resource=what, action="history")


def _object_id(vo_uid: str) -> UUID:
    object_id, _ = parse_object_ref(vo_uid, "versioned_object_uid")
    return object_id


@router.get("/versioned_folder/{vo_uid}")
async def get_versioned_folder(
    ehr_id: str, vo_uid: str, request: Request, principal: Reader
) -> Response:
    """The EHR's VERSIONED_FOLDER (its directory as a versioned object)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    with mapped_errors():
        async with uow(request)() as u:
            head = await versioned_folder(u, ehr_id=ehr_uuid, vo_id=_object_id(vo_uid))
    return versioned_object("VERSIONED_FOLDER", head.vo_id, ehr_uuid, head.time_created)


@router.get("/versioned_folder/{vo_uid}/revision_history")
async def get_folder_revision_history(
    ehr_id: str, vo_uid: str, request: Request, principal: Reader
) -> Response:
    """Every version of the directory with its audit, oldest first."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    with mapped_errors():
        async with uow(request)() as u:
            history = await folder_history(u, ehr_id=ehr_uuid, vo_id=_object_id(vo_uid))
            await _audit(u, request, ehr_uuid, f"VersionedFolder/{vo_uid}")
    return json_response(revision_history(history, request.app.state.system_id))


async def _original(
    request: Request, ehr_id: str, vo_id: UUID, *, version: int | None, at: str | None
) -> Response:
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    when = parse_time(at)
    with mapped_errors():
        async with uow(request)() as u:
            v = await read_folder_version(u, ehr_id=ehr_uuid, vo_id=vo_id, version=version, at=when)
            await _audit(u, request, ehr_uuid, f"VersionedFolder/{vo_id}")
    uid = str(VersionUid(v.vo_id, request.app.state.system_id, v.version))
    return json_response(
        original_version(v, request.app.state.system_id),
        headers=version_headers(uid, v.time_committed),
    )


@router.get("/versioned_folder/{vo_uid}/version")
async def get_folder_original_version(
    ehr_id: str,
    vo_uid: str,
    request: Request,
    principal: Reader,
    version_at_time: str | None = None,
) -> Response:
    """The ORIGINAL_VERSION of the directory current at a time, or the latest."""
    return await _original(request, ehr_id, _object_id(vo_uid), version=None, at=version_at_time)


@router.get("/versioned_folder/{vo_uid}/version/{version_uid}")
async def get_folder_original_version_by_uid(
    ehr_id: str, vo_uid: str, version_uid: str, request: Request, principal: Reader
) -> Response:
    """One ORIGINAL_VERSION of the directory by its uid (404 when it names another object)."""
    vo_id = _object_id(vo_uid)
    uid = parse_version_uid(version_uid, "version_uid")
    if uid.object_id != vo_id:
        raise Problem(404, "not-found", f"{version_uid} is not a version of {vo_id}")
    return await _original(request, ehr_id, vo_id, version=uid.version, at=None)
