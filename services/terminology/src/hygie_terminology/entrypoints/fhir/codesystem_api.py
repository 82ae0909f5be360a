"""CodeSystem: $lookup, $validate-code, $subsumes, read and search."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ...domain.errors import NotFound
from ...service.codes import subsumes, validate_in_code_system
from ...service.lookup import fast_lookup, lookup
from .common import Reader, catalog, to_problem
from .outcome import fhir_response
from .params import Params, bad_request, read_params
from .render import lookup_parameters, validation_parameters
from .resources import read_resource, search_resources

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["CodeSystem"])


def _system_code(params: Params, *, coding: str = "coding") -> tuple[str, str]:
    c = params.coding(coding)
    if c is not None:
        system, code = c.get("system"), c.get("code")
    else:
        system, code = params.get("system") or params.get("url"), params.get("code")
    if not system:
        raise bad_request("parameter 'system' is required", parameter="system")
    if not code:
        raise bad_request("parameter 'code' is required", parameter="code")
    return str(system), str(code)


@router.api_route("/CodeSystem/$lookup", methods=["GET", "POST"])
async def lookup_code(request: Request, principal: Reader) -> Response:
    """Display, designations and properties (parents, children, OMOP attributes) of a code."""
    params = await read_params(request)
    system, code = _system_code(params)
    version = params.get("version")
    result = None
    if not params.get("release"):  # the active release: one round trip
        state = request.app.state
        try:
            result = await fast_lookup(
                state.read_pool, state.release_cache, system=system, code=code, version=version
            )
        except NotFound as exc:
            raise to_problem(exc) from None
    if result is None:
        async with catalog(request, params.get("release")) as cat:
            result = await lookup(cat, system=system, code=code, version=version)
    wanted = {str(p) for p in params.values.get("property") or []}
    if wanted:  # FHIR R4 $lookup: "property" names the properties to return
        result.properties = [p for p in result.properties if p.code in wanted]
    language = params.get("displayLanguage")
    if language:
        base = language.split("-")[0].lower()
        translated = next((d.value for d in result.designations if d.language == base), None)
        result.display = translated or result.display
    return fhir_response(lookup_parameters(result))


@router.api_route("/CodeSystem/$validate-code", methods=["GET", "POST"])
async def validate_code(request: Request, principal: Reader) -> Response:
    params = await read_params(request)
    system, code = _system_code(params)
    display = params.get("display") or (params.coding("coding") or {}).get("display")
    async with catalog(request, params.get("release")) as cat:
        result = await validate_in_code_system(
            cat, system=system, code=code, display=display, version=params.get("version")
        )
    return fhir_response(validation_parameters(result))


@router.api_route("/CodeSystem/$subsumes", methods=["GET", "POST"])
async def subsumes_codes(request: Request, principal: Reader) -> Response:
    params = await read_params(request)
    a, b = params.coding("codingA"), params.coding("codingB")
    system = params.get("system") or (a or {}).get("system")
    code_a = params.get("codeA") or (a or {}).get("code")
    code_b = params.get("codeB") or (b or {}).get("code")
    if not system:
        raise bad_request("parameter 'system' is required", parameter="system")
    if not code_a or not code_b:
        raise bad_request("parameters 'codeA' and 'codeB' are required", parameter="codeA")
    async with catalog(request, params.get("release")) as cat:
        outcome = await subsumes(cat, system=system, code_a=code_a, code_b=code_b)
    return fhir_response(
        {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}
    )


@router.get("/CodeSystem")
async def search_code_systems(request: Request, principal: Reader) -> Response:
    return await search_resources(request, "CodeSystem")


@router.get("/CodeSystem/{id_}")
async def read_code_system(request: Request, id_: str, principal: Reader) -> Response:
    return await read_resource(request, "CodeSystem", id_)
