"""ITS-REST CONTRIBUTION endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from ...service.contributions import commit_contribution, read_contribution
from .common import (
    Reader,
    Writer,
    document_response,
    json_response,
    mapped_errors,
    parse_uuid,
    prefer,
    read_body,
    uow,
)

router = APIRouter(prefix="/openehr/v1/ehr/{ehr_id}", tags=["CONTRIBUTION"])


@router.post("/contribution", status_code=201)
async def post_contribution(ehr_id: str, request: Request, principal: Writer) -> Response:
    """Commit several versions atomically: all are stored, or none. The body is canonical
    JSON or canonical XML (``<contribution>`` with ``<versions xsi:type="ORIGINAL_VERSION">``
    and ``<audit>``); the representation follows ``Accept``."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    body = await read_body(request)
    system_id = request.app.state.system_id
    with mapped_errors():
        async with uow(request)() as u:
            contribution_id, _ = await commit_contribution(
                u,
                ehr_id=ehr_uuid,
                body=body,
                principal=principal.subject,
                system_id=system_id,
                now=datetime.now(UTC),
                cache=request.app.state.templates,
            )
            representation = await read_contribution(
                u, ehr_id=ehr_uuid, contribution_id=contribution_id, system_id=system_id
            )
    location = str(
        request.url_for("get_contribution", ehr_id=ehr_id, contribution_uid=str(contribution_id))
    )
    headers = {"Location": location, "ETag": f'"{contribution_id}"'}
    mode = prefer(request)
    if mode == "representation":
        return document_response(request, representation, status=201, headers=headers)
    if mode == "identifier":
        return json_response({"uid": {"value": str(contribution_id)}}, status=201, headers=headers)
    return Response(status_code=201, headers=headers)


@router.get("/contribution/{contribution_uid}", name="get_contribution")
async def get_contribution(
    ehr_id: str, contribution_uid: str, request: Request, principal: Reader
) -> Response:
    """A CONTRIBUTION (its audit and references to its versions), in canonical JSON or,
    with ``Accept: application/xml``, canonical XML."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    cid = parse_uuid(contribution_uid, "contribution_uid")
    with mapped_errors():
        async with uow(request)() as u:
            body = await read_contribution(
                u, ehr_id=ehr_uuid, contribution_id=cid, system_id=request.app.state.system_id
            )
    return document_response(request, body, headers={"ETag": f'"{cid}"'})
