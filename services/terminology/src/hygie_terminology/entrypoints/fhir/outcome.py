"""FHIR OperationOutcome as the error body of the terminology API (``render_error``)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

__all__ = ["FHIR_JSON", "fhir_response", "operation_outcome"]

FHIR_JSON = "application/fhir+json"

_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    422: "business-rule",
    503: "transient",
}


def fhir_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


def operation_outcome(
    status: int, slug: str, title: str, detail: str, extra: dict[str, Any]
) -> Response:
    """One issue: its code (``extra['code']`` or from the status), the message, the
    offending parameter as ``expression`` when known."""
    code = extra.get("code") or _CODES.get(status, "exception" if status >= 500 else "invalid")
    issue: dict[str, Any] = {
        "severity": "error" if status < 500 else "fatal",
        "code": code,
        "diagnostics": detail,
        "details": {
            "coding": [{"system": "https://hygie.health/problems", "code": slug}],
            "text": title,
        },
    }
    if extra.get("expression"):
        issue["expression"] = list(extra["expression"])
    issues = [issue]
    for problem in extra.get("problems") or []:
        if isinstance(problem, str):
            issues.append({"severity": "error", "code": "invalid", "diagnostics": problem})
            continue
        issues.append(
            {
                "severity": problem.get("severity", "error"),
                "code": "invalid",
                "diagnostics": problem["reason"],
                "location": [
                    f"{problem['file']}:{problem['line']}"
                    if problem.get("line")
                    else problem["file"]
                ],
            }
        )
    return fhir_response({"resourceType": "OperationOutcome", "issue": issues}, status)
