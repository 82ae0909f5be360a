"""FHIR OperationOutcome as the error body of the ``/fhir`` routes (FHIR R4 RESTful API:
errors are OperationOutcome resources); the ``/audit`` routes keep RFC 9457 problem
details. A route class, so that errors raised while resolving a route's dependencies
(authentication, roles) and validating its parameters are answered the same way."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from hygie_platform.http import Problem
from hygie_platform.security import AuthError, Forbidden

__all__ = ["FHIR_JSON", "FhirRoute", "operation_outcome"]

FHIR_JSON = "application/fhir+json"
PROBLEMS = "https://hygie.health/problems"

#: HTTP status → OperationOutcome.issue.code (FHIR R4 IssueType).
_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    422: "invalid",
    503: "transient",
}


def operation_outcome(
    status: int,
    slug: str,
    issues: list[tuple[str, str | None]],
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    """An OperationOutcome of one issue per ``(diagnostics, FHIRPath expression)``; the
    problem slug is its details coding (the same stable names as the problem types)."""
    code = _CODES.get(status, "exception" if status >= 500 else "invalid")
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status < 500 else "fatal",
                "code": code,
                "details": {"coding": [{"system": PROBLEMS, "code": slug}]},
                "diagnostics": diagnostics,
                **({"expression": [expression]} if expression else {}),
            }
            for diagnostics, expression in issues
        ],
    }
    response = Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _parameter(loc: tuple[Any, ...]) -> str | None:
    """A query parameter's name (FHIR search parameters are the expression there)."""
    return str(loc[1]) if len(loc) > 1 and loc[0] == "query" else None


class FhirRoute(APIRoute):
    """A route whose errors are OperationOutcome resources."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as exc:
                path = exc.extra.get("path")
                return operation_outcome(
                    exc.status, exc.slug, [(exc.detail, path)], headers=exc.headers
                )
            except AuthError as exc:
                return operation_outcome(
                    401,
                    "unauthorized",
                    [(str(exc), None)],
                    headers={"WWW-Authenticate": 'Bearer realm="hygie"'},
                )
            except Forbidden as exc:
                return operation_outcome(403, "forbidden", [(str(exc), None)])
            except RequestValidationError as exc:
                issues = [
                    (
                        f"{_parameter(e['loc']) or '.'.join(map(str, e['loc']))}: {e['msg']}",
                        _parameter(e["loc"]),
                    )
                    for e in exc.errors()
                ]
                return operation_outcome(400, "invalid-request", issues)

        return route
