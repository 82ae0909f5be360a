"""Admin API of the EHR store (in the spirit of EHRbase's ``/admin`` endpoints): erasing
an EHR. Administrators only — not integration clients, not clinicians."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from hygie_platform.access import record_access
from hygie_platform.http import Problem
from hygie_platform.security import Principal, Role, require_roles

from ...service.erasure import erase_ehr
from .common import mapped_errors, parse_uuid, read_body, uow

router = APIRouter(prefix="/openehr/v1/admin", tags=["Admin"])

AdminOnly = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def _reason(request: Request, reason: str | None) -> str:
    """The reason, from ``?reason=`` or a JSON body ``{"reason": "..."}``."""
    body = await read_body(request, required=False)
    if body is not None:
        if not isinstance(body, dict) or not isinstance(body.get("reason", ""), str):
            raise Problem(400, "bad-request", 'the body must be {"reason": "<text>"}')
        if reason is not None and body.get("reason") not in (None, reason):
            raise Problem(400, "bad-request", "two different reasons (query and body)")
        reason = reason or body.get("reason")
    if not reason or not reason.strip():
        raise Problem(
            400,
            "reason-required",
            "erasing an EHR needs a reason (?reason= or a JSON body with 'reason')",
        )
    return reason


@router.delete("/ehr/{ehr_id}", status_code=204)
async def erase(
    ehr_id: str, request: Request, principal: AdminOnly, reason: str | None = None
) -> Response:
    """Erase an EHR: every composition, EHR_STATUS, folder, contribution and merge link is
    removed, a tombstone of the id is kept, ``hygie.ehr.ehr.erased.v1`` is journaled in the
    same transaction; 404 for an unknown or already erased EHR."""
    ehr_uuid = parse_uuid(ehr_id, "ehr_id")
    text = await _reason(request, reason)
    with mapped_errors():
        async with uow(request)() as u:
            done = await erase_ehr(
                u,
                ehr_id=ehr_uuid,
                reason=text,
                requested_by=principal.subject,
                now=datetime.now(UTC),
            )
            # ARCHITECTURE §9: the erasure of a patient's record is itself audited.
            subject = done.subject
            await record_access(
                u,
                request,
                patient=f"{subject.namespace}|{subject.id}" if subject else f"EHR/{ehr_id}",
                resource=f"EHR/{ehr_id}",
                action="delete",
            )
    return Response(status_code=204)
