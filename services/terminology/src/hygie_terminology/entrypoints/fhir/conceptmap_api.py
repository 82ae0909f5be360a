"""ConceptMap: $translate (explicit ConceptMaps and OMOP "Maps to"), read and search."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ...service.closure import closure
from ...service.translate import reverse_translate, translate
from .common import Reader, catalog
from .outcome import fhir_response
from .params import bad_request, read_params
from .render import closure_concept_map, translate_parameters
from .resources import read_resource, search_resources

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["ConceptMap"])


@router.api_route("/ConceptMap/$translate", methods=["GET", "POST"])
async def translate_code(request: Request, principal: Reader) -> Response:
    """Targets of a code; ``targetsystem`` narrows them (OMOP concept ids by default)."""
    params = await read_params(request)
    coding = params.coding("coding") or {}
    system = params.get("system") or coding.get("system")
    code = params.get("code") or coding.get("code")
    if not system:
        raise bad_request("parameter 'system' is required", parameter="system")
    if not code:
        raise bad_request("parameter 'code' is required", parameter="code")
    target_system = params.get("targetsystem") or params.get("targetSystem")
    async with catalog(request, params.get("release")) as cat:
        if params.get("reverse") == "true":
            matches = await reverse_translate(
                cat, system=str(system), code=str(code), target_system=target_system
            )
            return fhir_response(translate_parameters(matches))
        matches = await translate(
            cat,
            system=str(system),
            code=str(code),
            target_system=target_system,
            url=params.get("url"),
        )
    return fhir_response(translate_parameters(matches))


@router.api_route("/ConceptMap/$closure", methods=["GET", "POST"])
async def closure_table(request: Request, principal: Reader) -> Response:
    """Initialise a closure table (``name`` only), add ``concept`` codings to it, or
    replay it from ``version``: the new subsumption entries, as a ConceptMap."""
    params = await read_params(request)
    name = params.require("name")
    concepts = []
    for coding in params.values.get("concept") or []:
        if not isinstance(coding, dict) or not coding.get("system") or not coding.get("code"):
            raise bad_request(
                "each 'concept' must be a Coding with system and code", parameter="concept"
            )
        concepts.append((str(coding["system"]), str(coding["code"])))
    since = params.integer("version", -1) if params.get("version") is not None else None
    async with catalog(request, params.get("release")) as cat:
        result = await closure(cat, name=name, concepts=concepts, since=since)
    return fhir_response(closure_concept_map(result))


@router.get("/ConceptMap")
async def search_concept_maps(request: Request, principal: Reader) -> Response:
    return await search_resources(request, "ConceptMap")


@router.get("/ConceptMap/{id_}")
async def read_concept_map(request: Request, id_: str, principal: Reader) -> Response:
    return await read_resource(request, "ConceptMap", id_)
