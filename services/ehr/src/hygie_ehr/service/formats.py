"""Use cases of the simplified formats: a FLAT/STRUCTURED body → canonical JSON before a
commit, a stored composition → FLAT/STRUCTURED, a template's web template and example."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hygie_platform.uow import UnitOfWork

from ..adapters.templates import TemplateCache
from ..domain.opt import OperationalTemplate
from ..webtemplate import (
    FlatError,
    canonical_to_flat,
    canonical_to_structured,
    flat_to_canonical,
    structured_to_canonical,
    web_template,
)
from ..webtemplate.example import example_canonical
from .errors import NotFound, Unprocessable

__all__ = [
    "CANONICAL",
    "FLAT",
    "STRUCTURED",
    "example_composition",
    "from_canonical",
    "template_of",
    "to_canonical",
    "web_template_of",
]

CANONICAL, FLAT, STRUCTURED = "JSON", "FLAT", "STRUCTURED"


async def template_of(
    uow: UnitOfWork, cache: TemplateCache, template_id: str | None
) -> OperationalTemplate:
    """The parsed template a simplified-format document is written against (422 if none)."""
    if not template_id:
        raise Unprocessable(
            "a FLAT or STRUCTURED composition needs its template id",
            [("openehr-template-id", "give the openehr-template-id header or ?templateId=")],
        )
    opt = await cache.get(uow.connection, template_id)
    if opt is None:
        raise Unprocessable(
            f"unknown template {template_id!r}: upload it first",
            [("openehr-template-id", f"unknown template {template_id}")],
        )
    return opt


async def to_canonical(
    uow: UnitOfWork, *, cache: TemplateCache, body: Any, fmt: str, template_id: str | None
) -> Any:
    """The canonical COMPOSITION of a request body in ``fmt``: 422 naming every bad key,
    and every template violation by the FLAT key that placed the offending data (the
    commit validates again, canonical paths only, so it is checked here first)."""
    if fmt == CANONICAL:
        return body
    opt = await template_of(uow, cache, template_id)
    try:
        if fmt == FLAT:
            return flat_to_canonical(opt, body, validated=True)
        return structured_to_canonical(opt, body, validated=True)
    except FlatError as exc:
        raise Unprocessable(
            f"the {fmt} composition cannot be placed in template {opt.template_id!r}", exc.issues
        ) from None


async def from_canonical(
    uow: UnitOfWork, *, cache: TemplateCache, data: dict[str, Any], fmt: str
) -> Any:
    """A stored composition in ``fmt``."""
    if fmt == CANONICAL:
        return data
    template_id = ((data.get("archetype_details") or {}).get("template_id") or {}).get("value")
    opt = await template_of(uow, cache, template_id)
    if fmt == FLAT:
        return canonical_to_flat(opt, data)
    return canonical_to_structured(opt, data)


async def web_template_of(
    uow: UnitOfWork, *, cache: TemplateCache, template_id: str
) -> dict[str, Any]:
    opt = await cache.get(uow.connection, template_id)
    if opt is None:
        raise NotFound(f"no template with id {template_id!r}")
    return web_template(opt).to_json()


async def example_composition(
    uow: UnitOfWork, *, cache: TemplateCache, template_id: str, fmt: str
) -> Any:
    """An example composition of a template, in ``fmt``."""
    opt = await cache.get(uow.connection, template_id)
    if opt is None:
        raise NotFound(f"no template with id {template_id!r}")
    data = example_canonical(opt, now=datetime.now(UTC))
    if fmt == FLAT:
        return canonical_to_flat(opt, data)
    if fmt == STRUCTURED:
        return canonical_to_structured(opt, data)
    return data
