"""FHIR OperationOutcome as the error body of the FHIR API (the platform's ``render_error``)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from ...domain.errors import Issue
from .urls import EXPRESSIONS

__all__ = ["issues_extra", "operation_outcome"]

FHIR_JSON = "application/fhir+json"

_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    422: "business-rule",
    503: "transient",
}


def issues_extra(issues: list[Issue]) -> dict[str, Any]:
    """The ``extra`` of a Problem carrying field-level issues."""
    return {"issues": [{"field": i.field, "rule": i.rule, "message": i.message} for i in issues]}


def operation_outcome(
    status: int, slug: str, title: str, detail: str, extra: dict[str, Any]
) -> Response:
    """One issue per broken rule, with its FHIRPath expression and the rule's code."""
    code = extra.get("code") or _CODES.get(status, "exception" if status >= 500 else "invalid")
    issues = []
    for item in extra.get("issues") or []:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": code,
            "diagnostics": item["message"],
            "details": {
                "coding": [
                    {
                        "system": "https://hygie.health/fhir/CodeSystem/mpi-rule",
                        "code": item["rule"],
                    }
                ],
                "text": item["message"],
            },
        }
        expression = EXPRESSIONS.get(item["field"])
        if expression:
            issue["expression"] = [expression]
        issues.append(issue)
    if not issues:
        issues.append(
            {
                "severity": "error" if status < 500 else "fatal",
                "code": code,
                "diagnostics": detail,
                "details": {
                    "coding": [{"system": "https://hygie.health/problems", "code": slug}],
                    "text": title,
                },
            }
        )
    body = {"resourceType": "OperationOutcome", "issue": issues}
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)
