"""Operation parameters from a GET query or a POST ``Parameters`` body (FHIR R4 §3.1.0.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request

from hygie_platform.http import Problem

__all__ = ["Params", "bad_request", "read_params"]


def bad_request(detail: str, *, parameter: str | None = None) -> Problem:
    extra: dict[str, Any] = {"code": "invalid"}
    if parameter:
        extra["expression"] = [parameter]
    return Problem(400, "invalid-parameter", detail, **extra)


@dataclass
class Params:
    values: dict[str, list[Any]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = (self.values.get(name) or [None])[0]
        return None if value is None else str(value) if not isinstance(value, dict) else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise bad_request(f"parameter {name!r} is required", parameter=name)
        return value

    def coding(self, name: str) -> dict[str, Any] | None:
        value = (self.values.get(name) or [None])[0]
        return value if isinstance(value, dict) else None

    def integer(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"parameter {name!r} must be an integer", parameter=name) from None

    def resource(self, name: str) -> dict[str, Any] | None:
        value = (self.values.get(name) or [None])[0]
        return value if isinstance(value, dict) and "resourceType" in value else None


def _value(parameter: dict[str, Any]) -> Any:
    if "resource" in parameter:
        return parameter["resource"]
    for key, value in parameter.items():
        if key.startswith("value"):
            return value
    return None


async def read_params(request: Request) -> Params:
    """Query parameters, overlaid with a POSTed ``Parameters`` resource when there is one."""
    params = Params()
    for key, value in request.query_params.multi_items():
        params.values.setdefault(key, []).append(value)
    if request.method == "POST":
        body = await request.body()
        if body:
            try:
                resource = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise bad_request("the body is not JSON") from None
            if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
                raise bad_request("the body must be a FHIR Parameters resource")
            for parameter in resource.get("parameter") or []:
                if isinstance(parameter, dict) and parameter.get("name"):
                    params.values.setdefault(parameter["name"], []).append(_value(parameter))
    return params
