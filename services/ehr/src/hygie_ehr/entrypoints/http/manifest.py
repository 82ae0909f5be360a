"""``OPTIONS /openehr/v1``: the conformance manifest (ITS-REST overview; the fields
EHRbase answers with), built from the routes actually mounted so it cannot drift."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request, Response

from .common import json_response

router = APIRouter(prefix="/openehr/v1", tags=["Overview"])

BASE = "/openehr/v1"
REST_SPECS_VERSION = "1.0.3"
#: ITS-REST resources whose every call of the 1.0.3 overview is served
_NOT_IMPLEMENTED = ("/demographics", "/definition/template/adl2")


def _version() -> str:
    try:
        return version("hygie-ehr")
    except PackageNotFoundError:  # running from a source tree without metadata
        return "0.0.0"


def _operations(request: Request) -> list[str]:
    """Every mounted ``METHOD path`` below the base (from the app's OpenAPI document,
    computed once and cached by FastAPI)."""
    ops = set()
    for full, methods in request.app.openapi().get("paths", {}).items():
        if not full.startswith(BASE):
            continue
        path = full[len(BASE) :] or "/"
        if path == "/" or any(path.startswith(p) for p in _NOT_IMPLEMENTED):
            continue
        ops.update(f"{m.upper()} {path}" for m in methods if m not in ("head", "options"))
    return sorted(ops, key=lambda op: (op.split(" ", 1)[1], op))


@router.options("")
@router.options("/")
async def conformance_manifest(request: Request) -> Response:
    """What this openEHR platform implements (solution, versions, profile, endpoints)."""
    operations = _operations(request)
    endpoints = sorted({"/" + op.split(" ", 1)[1].split("/")[1] for op in operations})
    body = {
        "solution": "Hygie EHR",
        "solution_version": _version(),
        "vendor": "Hygie",
        "restapi_specs_version": REST_SPECS_VERSION,
        "conformance_profile": "CUSTOM",
        "endpoints": endpoints,
        "operations": operations,
        "formats": {
            "composition": [
                "application/json",
                "application/xml",
                "application/openehr.wt.flat+json",
                "application/openehr.wt.structured+json",
            ],
            "template": ["application/xml", "application/openehr.wt+json"],
            "ehr_status": ["application/json", "application/xml"],
            "directory": ["application/json", "application/xml"],
        },
        "not_implemented": list(_NOT_IMPLEMENTED),
    }
    return json_response(body, headers={"Allow": "GET, POST, PUT, DELETE, OPTIONS"})
