"""ITS-REST EHR and EHR_STATUS endpoints."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from hygie_contracts import PartyRef
from hygie_platform.http import Problem

from ...domain.ehr import Ehr
from ...domain.ehr_status import InvalidEhrStatus, read_status
from ...domain.versioning import VersionUid
from ...service.compositions import read_version
from ...service.ehr import create_ehr, find_ehr, get_ehr, update_ehr_status
from ...service.errors import SubjectHasEhr
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

router = APIRouter(prefix="/openehr/v1", tags=["EHR"])


async def _ehr_body(request: Request, ehr: Ehr) -> dict[str, Any]:
    async with uow(request)() as u:
        status = await read_version(
            u, ehr_id=ehr.ehr_id, vo_id=ehr.ehr_status_id, kind="EHR_STATUS"
        )
    body: dict[str, Any] = {
        "system_id": {"value": ehr.system_id},
        "ehr_id": {"value": str(ehr.ehr_id)},
        "ehr_status": status.data,
        "ehr_access": {
            "id": {"_type": "OBJECT_VERSION_ID", "value": str(ehr.ehr_id)},
            "namespace": "local",
            "type": "EHR_ACCESS",
        },
        "time_created": {"value": ehr.time_created.isoformat()},
    }
    if ehr.directory_id is not None:
        body["directory"] = {
            "id": {"_type": "HIER_OBJECT_ID", "value": str(ehr.directory_id)},
            "namespace": "local",
            "type": "FOLDER",
        }
    return body


async def _created(request: Request, ehr: Ehr) -> Response:
    location = str(request.url_for("get_ehr_by_id", ehr_id=str(ehr.ehr_id)))
    headers = {
        "Location": location,
        "ETag": f'"{ehr.ehr_id}"',
        **{
            k: v
            for k, v in version_headers(str(ehr.ehr_id), ehr.time_created).items()
            if k == "Last-Modified"
        },
    }
    mode = prefer(request)
    if mode == "representation":
        return json_response(await _ehr_body(request, ehr), status=201, headers=headers)
    if mode == "identifier":
        return json_response({"ehr_id": {"value": str(ehr.ehr_id)}}, status=201, headers=headers)
    return Response(status_code=201, headers=headers)


async def _create(request: Request, principal: Any, ehr_id: UUID | None) -> Response:
    body = await read_body(request, required=False)
    try:
        status = read_status(body)
    except InvalidEhrStatus as exc:
        raise Problem(400, "invalid-ehr-status", f"EHR_STATUS {exc}") from None
    audit = audit_of(request, principal, default_change="creation")
    with mapped_errors():
        try:
            async with uow(request)() as u:
                ehr = await create_ehr(
                    u,
                    system_id=request.app.state.system_id,
                    status=status,
                    audit=audit,
                    templates=request.app.state.templates,
                    ehr_id=ehr_id,
                )
        except SubjectHasEhr as exc:
            raise Problem(409, "ehr-exists", str(exc)) from None
    return await _created(request, ehr)


@router.post("/ehr", status_code=201)
async def post_ehr(request: Request, principal: Writer) -> Response:
    """Create an EHR (ITS-REST: POST /ehr); 409 when the subject already has one."""
    return await _create(request, principal, None)


@router.put("/ehr/{ehr_id}", status_code=201)
async def put_ehr(ehr_id: str, request: Request, principal: Writer) -> Response:
    """Create an EHR with a given id (ITS-REST: PUT /ehr/{ehr_id}); 409 if it exists."""
    return await _create(request, principal, parse_uuid(ehr_id, "ehr_id"))


@router.get("/ehr")
async def get_ehr_by_subject(
    request: Request,
    principal: Reader,
    subject_id: str | None = None,
    subject_namespace: str | None = None,
) -> Response:
    """The EHR of a subject (ITS-REST: GET /ehr?subject_id=&subject_namespace=)."""
    if not subject_id or not subject_namespace:
        raise Problem(400, "missing-subject", "subject_id and subject_namespace are required")
    with mapped_errors():
        async with uow(request)() as u:
            ehr = await find_ehr(u, PartyRef(namespace=subject_namespace, id=subject_id))
    return json_response(await _ehr_body(request, ehr), headers={"ETag": f'"{ehr.ehr_id}"'})


@router.get("/ehr/{ehr_id}", name="get_ehr_by_id")
async def get_ehr_by_id(ehr_id: str, request: Request, principal: Reader) -> Response:
    """Read an EHR (ITS-REST: GET /ehr/{ehr_id})."""
    uid = parse_uuid(ehr_id, "ehr_id")
    with mapped_errors():
        async with uow(request)() as u:
            ehr = await get_ehr(u, uid)
    return json_response(await _ehr_body(request, ehr), headers={"ETag": f'"{ehr.ehr_id}"'})


async def _status_version(
    request: Request, ehr_id: str, *, version: int | None = None, version_at_time: str | None = None
) -> Any:
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    at = parse_time(version_at_time)
    with mapped_errors():
        async with uow(request)() as u:
            ehr = await get_ehr(u, ehr_uuid)
            return ehr, await read_version(
                u,
                ehr_id=ehr_uuid,
                vo_id=ehr.ehr_status_id,
                kind="EHR_STATUS",
                version=version,
                at=at,
            )


@router.get("/ehr/{ehr_id}/ehr_status")
async def get_ehr_status(
    ehr_id: str, request: Request, principal: Reader, version_at_time: str | None = None
) -> Response:
    """The current EHR_STATUS, or the one at a time (ITS-REST: GET ehr_status)."""
    _, v = await _status_version(request, ehr_id, version_at_time=version_at_time)
    uid = str(VersionUid(v.vo_id, request.app.state.system_id, v.version))
    return document_response(request, v.data, headers=version_headers(uid, v.time_committed))


@router.get("/ehr/{ehr_id}/ehr_status/{version_uid}")
async def get_ehr_status_version(
    ehr_id: str, version_uid: str, request: Request, principal: Reader
) -> Response:
    """One EHR_STATUS version by its uid."""
    vo_id, version = parse_object_ref(version_uid, "version_uid")
    ehr, v = await _status_version(request, ehr_id, version=version)
    if vo_id != ehr.ehr_status_id:
        raise Problem(404, "not-found", f"{version_uid} is not a version of this EHR_STATUS")
    uid = str(VersionUid(v.vo_id, request.app.state.system_id, v.version))
    return document_response(request, v.data, headers=version_headers(uid, v.time_committed))


@router.put("/ehr/{ehr_id}/ehr_status")
async def put_ehr_status(ehr_id: str, request: Request, principal: Writer) -> Response:
    """A new EHR_STATUS version (ITS-REST: PUT ehr_status, If-Match required)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    if_match = parse_version_uid(request.headers.get("if-match"), "If-Match")
    try:
        status = read_status(await read_body(request))
    except InvalidEhrStatus as exc:
        raise Problem(400, "invalid-ehr-status", f"EHR_STATUS {exc}") from None
    audit = audit_of(request, principal, default_change="modification")
    with mapped_errors():
        async with uow(request)() as u:
            done = await update_ehr_status(
                u,
                ehr_id=ehr_uuid,
                if_match=if_match,
                status=status,
                audit=audit,
                templates=request.app.state.templates,
            )
    location = f"{request.url_for('get_ehr_by_id', ehr_id=ehr_id)}/ehr_status/{done.uid}"
    headers = version_headers(str(done.uid), done.time_committed, location)
    mode = prefer(request)
    if mode == "representation":
        return document_response(request, done.data or {}, headers=headers)
    if mode == "identifier":
        return json_response({"uid": {"value": str(done.uid)}}, headers=headers)
    return Response(status_code=204, headers=headers)


@router.get("/ehr/{ehr_id}/versioned_ehr_status")
async def get_versioned_ehr_status(ehr_id: str, request: Request, principal: Reader) -> Response:
    ehr, v = await _status_version(request, ehr_id, version=1)
    return versioned_object("VERSIONED_EHR_STATUS", ehr.ehr_status_id, ehr_id, v.time_committed)


@router.get("/ehr/{ehr_id}/versioned_ehr_status/revision_history")
async def get_ehr_status_history(ehr_id: str, request: Request, principal: Reader) -> Response:
    from ...adapters.versions import VersionStore

    ehr, _ = await _status_version(request, ehr_id)
    async with uow(request)() as u:
        history = await VersionStore(u.connection).history(ehr.ehr_status_id)
    return json_response(revision_history(history, request.app.state.system_id))


@router.get("/ehr/{ehr_id}/versioned_ehr_status/version")
async def get_ehr_status_original_version(
    ehr_id: str, request: Request, principal: Reader, version_at_time: str | None = None
) -> Response:
    _, v = await _status_version(request, ehr_id, version_at_time=version_at_time)
    return json_response(original_version(v, request.app.state.system_id))


@router.get("/ehr/{ehr_id}/versioned_ehr_status/version/{version_uid}")
async def get_ehr_status_original_version_by_uid(
    ehr_id: str, version_uid: str, request: Request, principal: Reader
) -> Response:
    vo_id, version = parse_object_ref(version_uid, "version_uid")
    ehr, v = await _status_version(request, ehr_id, version=version)
    if vo_id != ehr.ehr_status_id:
        raise Problem(404, "not-found", f"{version_uid} is not a version of this EHR_STATUS")
    return json_response(original_version(v, request.app.state.system_id))
