"""ValueSet: $expand, $validate-code, read and search."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from fastapi import APIRouter, Request, Response

from ...service.codes import validate_in_value_set
from ...service.expand import expand, resolve_value_set
from .common import Reader, catalog, later
from .outcome import fhir_response
from .params import bad_request, read_params
from .render import expansion_resource, validation_parameters
from .resources import read_resource, search_resources

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["ValueSet"])


@router.api_route("/ValueSet/$expand", methods=["GET", "POST"])
async def expand_value_set(request: Request, principal: Reader) -> Response:
    """A page of the expansion (``count``/``offset``), filtered by text (``filter``)."""
    params = await read_params(request)
    count = params.integer("count", 1000)
    offset = params.integer("offset", 0)
    async with catalog(request, params.get("release")) as cat:
        definition = await resolve_value_set(
            cat,
            url=params.get("url"),
            version=params.get("valueSetVersion"),
            resource=params.resource("valueSet"),
        )
        result = await expand(
            cat,
            definition,
            text_filter=params.get("filter"),
            count=count,
            offset=offset,
            display_language=params.get("displayLanguage"),
            later=later(request),
        )
    body = expansion_resource(result, identifier=f"urn:uuid:{uuid4()}")
    body["expansion"]["timestamp"] = datetime.now(UTC).isoformat()
    return fhir_response(body)


@router.api_route("/ValueSet/$validate-code", methods=["GET", "POST"])
async def validate_code(request: Request, principal: Reader) -> Response:
    params = await read_params(request)
    coding = params.coding("coding") or {}
    code = params.get("code") or coding.get("code")
    if not code:
        raise bad_request("parameter 'code' (or 'coding') is required", parameter="code")
    system = params.get("system") or coding.get("system")
    display = params.get("display") or coding.get("display")
    async with catalog(request, params.get("release")) as cat:
        definition = await resolve_value_set(
            cat,
            url=params.get("url"),
            version=params.get("valueSetVersion"),
            resource=params.resource("valueSet"),
        )
        result = await validate_in_value_set(
            cat, definition, system=system, code=str(code), display=display
        )
    return fhir_response(validation_parameters(result))


@router.get("/ValueSet")
async def search_value_sets(request: Request, principal: Reader) -> Response:
    return await search_resources(request, "ValueSet")


@router.get("/ValueSet/{id_}")
async def read_value_set(request: Request, id_: str, principal: Reader) -> Response:
    return await read_resource(request, "ValueSet", id_)
