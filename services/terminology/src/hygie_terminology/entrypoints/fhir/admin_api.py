"""Loading FHIR terminology resources over HTTP (admin): a resource or a Bundle."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from hygie_platform.http import Problem

from ...domain.errors import ResourcesRejected
from ...service.resources import load_fhir_resources
from .common import Admin
from .outcome import fhir_response

__all__ = ["router"]

router = APIRouter(prefix="/terminology", tags=["admin"])


@router.post("/resources")
async def load_resources(request: Request, principal: Admin) -> Response:
    """Store CodeSystem/ValueSet/ConceptMap resources, all or none."""
    try:
        document = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Problem(400, "invalid-json", "the body is not JSON", code="invalid") from None
    try:
        loaded = await load_fhir_resources(request.app.state.uow, [("body", document)])
    except ResourcesRejected as exc:
        raise Problem(
            422, "resources-rejected", str(exc), code="invalid", problems=exc.problems
        ) from None
    return fhir_response(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": f"{r.resource_type} {r.url}|{r.version} {r.change}"
                    f" ({r.count} codes or elements)",
                }
                for r in loaded
            ],
        }
    )
