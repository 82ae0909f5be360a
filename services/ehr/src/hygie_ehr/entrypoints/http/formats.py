"""Content negotiation of the simplified formats (EHRbase/Better media types and
``format=`` query parameter) and where the template id of a FLAT body comes from."""

from __future__ import annotations

from fastapi import Request

from hygie_platform.http import Problem

from ...service.formats import CANONICAL, FLAT, STRUCTURED

__all__ = [
    "FLAT_MEDIA",
    "STRUCTURED_MEDIA",
    "input_format",
    "media_type",
    "output_format",
    "template_id",
]

FLAT_MEDIA = "application/openehr.wt.flat+json"
STRUCTURED_MEDIA = "application/openehr.wt.structured+json"
_MEDIA = {
    "application/openehr.wt.flat+json": FLAT,
    "application/openehr.wt.flat.schema+json": FLAT,
    "application/openehr.wt.structured+json": STRUCTURED,
    "application/openehr.wt.structured.schema+json": STRUCTURED,
}
_FORMATS = {"JSON": CANONICAL, "CANONICAL": CANONICAL, "FLAT": FLAT, "STRUCTURED": STRUCTURED}


def _query_format(request: Request) -> str | None:
    value = request.query_params.get("format")
    if value is None:
        return None
    fmt = _FORMATS.get(value.upper())
    if fmt is None:
        raise Problem(
            400, "unknown-format", f"format {value!r} is not one of JSON, FLAT, STRUCTURED"
        )
    return fmt


def input_format(request: Request) -> str:
    """The format of the request body: ``format=`` or the Content-Type."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return _MEDIA.get(ctype) or _query_format(request) or CANONICAL


def output_format(request: Request) -> str:
    """The format of the answer: the Accept header, else ``format=``."""
    for part in request.headers.get("accept", "").split(","):
        fmt = _MEDIA.get(part.split(";")[0].strip().lower())
        if fmt is not None:
            return fmt
    return _query_format(request) or CANONICAL


def media_type(fmt: str) -> str:
    return {FLAT: FLAT_MEDIA, STRUCTURED: STRUCTURED_MEDIA}.get(fmt, "application/json")


def template_id(request: Request) -> str | None:
    return request.headers.get("openehr-template-id") or request.query_params.get("templateId")
