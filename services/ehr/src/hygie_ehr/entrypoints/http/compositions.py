"""ITS-REST COMPOSITION and VERSIONED_COMPOSITION endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hygie_platform.access import record_access
from hygie_platform.http import Problem

from ...adapters.versions import StoredVersion, VersionStore
from ...domain.versioning import VersionUid
from ...service.compositions import (
    Committed,
    commit_composition,
    delete_composition,
    read_composition,
    update_composition,
)
from ...service.formats import CANONICAL, from_canonical, to_canonical
from .common import (
    Reader,
    Writer,
    audit_of,
    document_response,
    json_response,
    lifecycle_of,
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
from .formats import input_format, media_type, output_format, template_id

router = APIRouter(prefix="/openehr/v1/ehr/{ehr_id}", tags=["COMPOSITION"])


def _location(request: Request, ehr_id: str, uid: VersionUid) -> str:
    """The URL ``url_for("get_composition")`` gives, built without its search of the routes
    (url_for searches the routes: 3% of a commit's CPU in a profile)."""
    base = str(request.base_url).rstrip("/")
    return f"{base}/openehr/v1/ehr/{ehr_id}/composition/{uid}"


async def _answer(request: Request, ehr_id: str, done: Committed, status: int) -> Response:
    headers = version_headers(
        str(done.uid), done.time_committed, _location(request, ehr_id, done.uid)
    )
    mode = prefer(request)
    if mode == "representation" and done.data is not None:
        return await _represent(request, done.data, status=status, headers=headers)
    if mode == "identifier":
        return json_response({"uid": {"value": str(done.uid)}}, status=status, headers=headers)
    return Response(status_code=status if status != 200 else 204, headers=headers)


async def _represent(
    request: Request, data: dict[str, Any], *, status: int = 200, headers: dict[str, str]
) -> Response:
    """A composition in the format the client accepts (canonical, FLAT or STRUCTURED)."""
    fmt = output_format(request)
    if fmt == CANONICAL:
        return document_response(request, data, status=status, headers=headers)
    with mapped_errors():
        async with uow(request)() as u:
            body = await from_canonical(u, cache=request.app.state.templates, data=data, fmt=fmt)
    response = json_response(body, status=status, headers=headers)
    response.headers["Content-Type"] = media_type(fmt)
    return response


@router.post("/composition", status_code=201)
async def post_composition(ehr_id: str, request: Request, principal: Writer) -> Response:
    """Commit a new composition, validated against its template (422 with every issue)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    data = await read_body(request)
    audit = audit_of(request, principal, default_change="creation")
    lifecycle = lifecycle_of(request)
    with mapped_errors():
        async with uow(request)() as u:
            data = await to_canonical(
                u,
                cache=request.app.state.templates,
                body=data,
                fmt=input_format(request),
                template_id=template_id(request),
            )
            done = await commit_composition(
                u,
                ehr_id=ehr_uuid,
                data=data,
                audit=audit,
                lifecycle_state=lifecycle,
                cache=request.app.state.templates,
            )
    return await _answer(request, ehr_id, done, 201)


@router.put("/composition/{vo_id}")
async def put_composition(
    ehr_id: str,
    vo_id: str,
    request: Request,
    principal: Writer,
) -> Response:
    """A new version (If-Match: the latest version uid; stale → 412 with the latest ETag)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    object_id, _ = parse_object_ref(vo_id, "versioned_object_uid")
    if_match = parse_version_uid(request.headers.get("if-match"), "If-Match")
    data = await read_body(request)
    audit = audit_of(request, principal, default_change="modification")
    lifecycle = lifecycle_of(request)
    with mapped_errors():
        async with uow(request)() as u:
            data = await to_canonical(
                u,
                cache=request.app.state.templates,
                body=data,
                fmt=input_format(request),
                template_id=template_id(request),
            )
            done = await update_composition(
                u,
                ehr_id=ehr_uuid,
                vo_id=object_id,
                if_match=if_match,
                data=data,
                audit=audit,
                lifecycle_state=lifecycle,
                cache=request.app.state.templates,
            )
    return await _answer(request, ehr_id, done, 200)


@router.delete("/composition/{version_uid}")
async def delete_composition_version(
    ehr_id: str, version_uid: str, request: Request, principal: Writer
) -> Response:
    """Logical deletion by the latest version uid (409 if it is not the latest)."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    uid = parse_version_uid(version_uid, "version uid")
    audit = audit_of(request, principal, default_change="deleted")
    with mapped_errors():
        async with uow(request)() as u:
            done = await delete_composition(u, ehr_id=ehr_uuid, version_uid=uid, audit=audit)
    return Response(
        status_code=204,
        headers=version_headers(
            str(done.uid), done.time_committed, _location(request, ehr_id, done.uid)
        ),
    )


async def _read(
    request: Request,
    ehr_id: str,
    uid: str,
    *,
    at: str | None = None,
) -> StoredVersion:
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    vo_id, version = parse_object_ref(uid, "uid")
    when = parse_time(at)
    with mapped_errors():
        async with uow(request)() as u:
            found, patient = await read_composition(
                u, ehr_id=ehr_uuid, vo_id=vo_id, version=version, at=when
            )
            # ARCHITECTURE §9: every read of patient data is an access event (same transaction).
            await record_access(
                u, request, patient=patient, resource=f"Composition/{uid}", action="read"
            )
            return found


@router.get("/composition/{uid}", name="get_composition")
async def get_composition(
    ehr_id: str, uid: str, request: Request, principal: Reader, version_at_time: str | None = None
) -> Response:
    """A composition by versioned-object id (latest, or at a time) or by version uid.
    A deleted one answers 204 (ITS-REST), its older versions stay readable."""
    v = await _read(request, ehr_id, uid, at=version_at_time)
    version_uid = str(VersionUid(v.vo_id, request.app.state.system_id, v.version))
    headers = version_headers(version_uid, v.time_committed)
    if v.data is None:
        return Response(status_code=204, headers=headers)
    return await _represent(request, v.data, headers=headers)


@router.get("/versioned_composition/{vo_id}")
async def get_versioned_composition(
    ehr_id: str, vo_id: str, request: Request, principal: Reader
) -> Response:
    v = await _read(request, ehr_id, vo_id.split("::")[0])
    async with uow(request)() as u:
        head = await VersionStore(u.connection).head(v.vo_id)
    assert head is not None
    return versioned_object("VERSIONED_COMPOSITION", v.vo_id, ehr_id, head.time_created)


@router.get("/versioned_composition/{vo_id}/revision_history")
async def get_composition_history(
    ehr_id: str, vo_id: str, request: Request, principal: Reader
) -> Response:
    v = await _read(request, ehr_id, vo_id.split("::")[0])
    async with uow(request)() as u:
        history = await VersionStore(u.connection).history(v.vo_id)
    return json_response(revision_history(history, request.app.state.system_id))


@router.get("/versioned_composition/{vo_id}/version")
async def get_composition_original_version(
    ehr_id: str, vo_id: str, request: Request, principal: Reader, version_at_time: str | None = None
) -> Response:
    v = await _read(request, ehr_id, vo_id.split("::")[0], at=version_at_time)
    return json_response(original_version(v, request.app.state.system_id))


@router.get("/versioned_composition/{vo_id}/version/{version_uid}")
async def get_composition_original_version_by_uid(
    ehr_id: str,
    vo_id: str,
    version_uid: str,
    request: Request,
    principal: Reader,
) -> Response:
    object_id, _ = parse_object_ref(vo_id, "versioned_object_uid")
    v = await _read(request, ehr_id, version_uid)
    if v.vo_id != object_id:
        raise Problem(400, "wrong-object", f"{version_uid} is not a version of {vo_id}")
    return json_response(original_version(v, request.app.state.system_id))
