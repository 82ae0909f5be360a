"""The review queue as FHIR Task resources (read and search; role ``admin``).

One Task per review item: ``intent=proposal``, code ``possible-duplicate``, ``focus`` the
source record, ``for`` the candidate patient, the reason in ``reasonCode``, the score
and per-field contributions as inputs; ``status`` is ``requested`` while open and
``completed`` once resolved, the resolution (``linked`` / ``not-a-match``) as output and
who/why as a note. Decisions are taken with ``POST /fhir/review-items/{id}/resolve``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from hygie_platform.http import Problem

from ...adapters.review import ReviewItem
from ...service.review import get_review, list_reviews
from .common import Admin, fhir_response, mapped_errors, parse_uuid, unit_of_work

__all__ = ["router", "task_resource"]

router = APIRouter(prefix="/fhir", tags=["Identity vigilance"])
TASK_CODES = "https://hygie.health/fhir/CodeSystem/mpi-task"
REASONS = "https://hygie.health/fhir/CodeSystem/mpi-review-reason"
_STATUS = {"requested": "open", "completed": None, "all": None}


def task_resource(item: ReviewItem) -> dict[str, Any]:
    """A review item as a FHIR R4 Task."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(item.id),
        "status": "requested" if item.status == "open" else "completed",
        "intent": "proposal",
        "code": {"coding": [{"system": TASK_CODES, "code": "possible-duplicate"}]},
        "focus": {"reference": f"Patient/{item.source_id}"},
        "for": {"reference": f"Patient/{item.candidate_id}"},
        "authoredOn": item.created_at.isoformat(),
        "lastModified": (item.resolved_at or item.created_at).isoformat(),
        "reasonCode": {"coding": [{"system": REASONS, "code": item.reason}]},
        "input": [
            {"type": {"text": "score"}, "valueDecimal": round(item.score, 3)},
            {
                "type": {"text": "contributions"},
                "valueString": orjson.dumps(item.contributions).decode(),
            },
        ],
    }
    if item.status != "open":
        task["output"] = [{"type": {"text": "resolution"}, "valueCode": item.status}]
        note: dict[str, Any] = {"text": item.comment or item.status}
        if item.resolved_by:
            note["authorString"] = item.resolved_by
        task["note"] = [note]
    return task


@router.get("/Task")
async def search_tasks(
    request: Request, principal: Admin, status: str = "requested", _count: int = 100
) -> Response:
    """Review items as a searchset of Tasks (``status`` requested | completed | all)."""
    if status not in _STATUS:
        raise Problem(400, "invalid-parameter", "status is requested, completed or all")
    async with unit_of_work(request) as uow:
        items = await list_reviews(uow, status=_STATUS[status], limit=max(1, min(_count, 1000)))
    if status == "completed":
        items = [i for i in items if i.status != "open"]
    base = str(request.base_url).rstrip("/") + "/fhir"
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(items),
            "entry": [
                {
                    "fullUrl": f"{base}/Task/{i.id}",
                    "resource": task_resource(i),
                    "search": {"mode": "match"},
                }
                for i in items
            ],
        }
    )


@router.get("/Task/{task_id}")
async def read_task(task_id: str, request: Request, principal: Admin) -> Response:
    uid = parse_uuid(task_id, "task")
    async with mapped_errors(), unit_of_work(request) as uow:
        item = await get_review(uow, uid)
    return fhir_response(task_resource(item))
