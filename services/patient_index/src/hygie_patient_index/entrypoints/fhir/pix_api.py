"""PIXm Patient/$ihe-pix (ITI-83) and Patient/$match (ITI-119)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from hygie_platform.http import Problem

from ...domain.errors import InvalidIdentity, Issue
from ...domain.identity import Identifier
from ...service.context import IndexContext
from ...service.match_query import match_patients
from ...service.queries import cross_reference, known_systems, source_for_identifier
from .bundles import searchset
from .common import Reader, fhir_response, index_context, json_body, mapped_errors, unit_of_work
from .outcome import issues_extra
from .parse import parse_patient
from .urls import MPI_SYSTEM

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["PIXm", "PDQm"])
Ctx = Annotated[IndexContext, Depends(index_context)]
_PLACEHOLDER = Identifier("urn:hygie:match-query", "query")


def _invalid(code: str, status: int, diagnostics: str) -> Problem:
    return Problem(
        status,
        code,
        diagnostics,
        code="code-invalid" if status != 404 else "not-found",
        **issues_extra([Issue("identifier", code, diagnostics)]),
    )


@router.get("/Patient/$ihe-pix")
async def ihe_pix(request: Request, principal: Reader) -> Response:
    """Identifiers of the same person in other domains (targetSystem filters them)."""
    raw = request.query_params.get("sourceIdentifier") or ""
    system, sep, value = raw.partition("|")
    if not sep or not system or not value:
        raise _invalid("source-identifier-format", 400, "sourceIdentifier must be system|value")
    targets = request.query_params.getlist("targetSystem")
    async with unit_of_work(request) as uow:
        known = await known_systems(uow, [system, *targets]) | {MPI_SYSTEM}
        if system not in known:
            raise _invalid(
                "source-domain-unknown", 400, "sourceIdentifier Assigning Authority not found"
            )
        unknown = [t for t in targets if t not in known]
        if unknown:
            raise _invalid("target-domain-unknown", 403, "targetSystem not found")
        source = await source_for_identifier(uow, Identifier(system, value))
        if source is None:
            raise _invalid(
                "source-identifier-unknown", 404, "sourceIdentifier Patient Identifier not found"
            )
        golden, sources = await cross_reference(uow, source)
    wanted = set(targets)
    params: list[dict[str, Any]] = []

    def add(ident_system: str, ident_value: str, ref: str | None) -> None:
        if (ident_system, ident_value) == (system, value):
            return
        if wanted and ident_system not in wanted:
            return
        params.append(
            {
                "name": "targetIdentifier",
                "valueIdentifier": {"system": ident_system, "value": ident_value},
            }
        )
        if ref:
            params.append({"name": "targetId", "valueReference": {"reference": ref}})

    add(MPI_SYSTEM, str(golden.id), f"Patient/{golden.id}")
    if golden.shareable_ins:
        add(golden.shareable_ins.system, golden.shareable_ins.matricule, None)
    for s in sources:
        for ident in s.identifiers:
            add(ident.system, ident.value, f"Patient/{s.id}")
    return fhir_response({"resourceType": "Parameters", "parameter": params})


@router.post("/Patient/$match")
async def match(request: Request, ctx: Ctx, principal: Reader) -> Response:
    """ITI-119: the query Patient in a Parameters ``resource``; scored Bundle, best first."""
    body = await json_body(request)
    resource, count, only_certain = None, 10, False
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for p in body.get("parameter") or []:
            if p.get("name") == "resource":
                resource = p.get("resource")
            elif p.get("name") == "count":
                count = int(p.get("valueInteger") or 10)
            elif p.get("name") == "onlyCertainMatches":
                only_certain = bool(p.get("valueBoolean"))
    elif isinstance(body, dict) and body.get("resourceType") == "Patient":
        resource = body
    if resource is None:
        raise Problem(400, "invalid-match", "Parameters.resource (a Patient) is required")
    ids = resource.get("identifier") or []
    async with mapped_errors():
        try:
            parsed = parse_patient({**resource, "identifier": ids}, primary=_PLACEHOLDER)
        except InvalidIdentity as exc:
            kept = [i for i in exc.issues if i.rule != "identifier-required"]
            if kept:
                raise InvalidIdentity(kept) from None
            raise
        async with unit_of_work(request) as uow:
            found = await match_patients(
                uow, ctx, parsed.draft, count=count, only_certain=only_certain
            )
    base = str(request.base_url).rstrip("/") + "/fhir"
    return fhir_response(
        searchset(
            base, [f.patient for f in found], scores=[(f.score.probability, f.grade) for f in found]
        )
    )
