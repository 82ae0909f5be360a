"""Identity vigilance operations: merge, unmerge, unlink, and the review queue."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from hygie_platform.http import Problem

from ...adapters.review import ReviewItem
from ...service.links import merge_patients, unlink_source, unmerge_patient
from ...service.review import list_reviews, resolve_review
from .common import Admin, fhir_response, json_body, mapped_errors, parse_uuid, unit_of_work
from .render import golden_resource

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["Identity vigilance"])


def _params(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise Problem(400, "invalid-parameters", "the body must be a FHIR Parameters resource")
    out: dict[str, Any] = {}
    for p in body.get("parameter") or []:
        value = next((v for k, v in p.items() if k.startswith("value")), None)
        out[p.get("name")] = value
    return out


def _ref(params: dict[str, Any], name: str) -> UUID:
    value = params.get(name)
    ref = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(ref, str) or not ref:
        raise Problem(
            400, "invalid-parameters", f"parameter {name} (a Patient reference) is required"
        )
    return parse_uuid(ref.removeprefix("Patient/"), name)


@router.post("/Patient/$merge")
async def merge(request: Request, principal: Admin) -> Response:
    """Merge ``source-patient`` into ``target-patient`` (golden records)."""
    p = _params(await json_body(request))
    async with mapped_errors(), unit_of_work(request) as uow:
        survivor = await merge_patients(
            uow,
            _ref(p, "source-patient"),
            _ref(p, "target-patient"),
            by=principal.subject,
            reason=p.get("reason"),
        )
    return fhir_response(golden_resource(survivor))


@router.post("/Patient/$unmerge")
async def unmerge(request: Request, principal: Admin) -> Response:
    p = _params(await json_body(request))
    async with mapped_errors(), unit_of_work(request) as uow:
        restored = await unmerge_patient(
            uow, _ref(p, "patient"), by=principal.subject, reason=p.get("reason")
        )
    return fhir_response(golden_resource(restored))


@router.post("/Patient/$unlink")
async def unlink(request: Request, principal: Admin) -> Response:
    """Take a source record out of its golden record (never auto-linked back)."""
    p = _params(await json_body(request))
    async with mapped_errors(), unit_of_work(request) as uow:
        created = await unlink_source(
            uow, _ref(p, "source-record"), by=principal.subject, reason=p.get("reason")
        )
    return fhir_response(golden_resource(created), status=201)


def _item(i: ReviewItem) -> dict[str, Any]:
    return {
        "id": str(i.id),
        "source": f"Patient/{i.source_id}",
        "candidate": f"Patient/{i.candidate_id}",
        "score": i.score,
        "contributions": i.contributions,
        "reason": i.reason,
        "status": i.status,
        "created": i.created_at.isoformat(),
        "resolved": i.resolved_at.isoformat() if i.resolved_at else None,
        "resolvedBy": i.resolved_by,
        "comment": i.comment,
    }


@router.get("/review-items")
async def reviews(
    request: Request, principal: Admin, status: str | None = "open", limit: int = 100
) -> Response:
    """The review queue (possible duplicates), oldest first."""
    async with unit_of_work(request) as uow:
        items = await list_reviews(
            uow, status=None if status == "all" else status, limit=max(1, min(limit, 1000))
        )
    return fhir_response({"items": [_item(i) for i in items], "total": len(items)})


class Resolution(BaseModel):
    resolution: Literal["link", "not-a-match"]
    comment: str | None = Field(default=None, max_length=2000)


@router.post("/review-items/{item_id}/resolve")
async def resolve(item_id: str, body: Resolution, request: Request, principal: Admin) -> Response:
    """Decide a review item: ``link`` or ``not-a-match``, with who (the token) and why."""
    uid = parse_uuid(item_id, "review item")
    async with mapped_errors(), unit_of_work(request) as uow:
        item = await resolve_review(
            uow, uid, body.resolution, by=principal.subject, comment=body.comment
        )
    return fhir_response(_item(item))
