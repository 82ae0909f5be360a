"""FHIR Patient: read, PDQm search (ITI-78), identity feed (PIXm ITI-104)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response

from hygie_platform.access import record_access, record_accesses
from hygie_platform.http import Problem
from hygie_platform.uow import UnitOfWork

from ...domain.errors import IdentifierTaken
from ...domain.golden import GoldenRecord
from ...domain.identity import SourceRecord
from ...service.context import IndexContext
from ...service.feed import replace_identity
from ...service.identity import record_identity
from ...service.queries import read_patient, search_patients
from .bundles import searchset
from .common import (
    Reader,
    Writer,
    fhir_response,
    identifier_param,
    index_context,
    json_body,
    mapped_errors,
    parse_uuid,
    unit_of_work,
)
from .parse import parse_patient
from .render import golden_resource, source_resource
from .search_params import parse_search

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["FHIR Patient"])
Ctx = Annotated[IndexContext, Depends(index_context)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _patient_key(found: GoldenRecord | SourceRecord) -> str:
    """The patient of an access event: ``Patient/<golden id>`` (the key of patient events)."""
    golden = found.id if isinstance(found, GoldenRecord) else (found.golden_id or found.id)
    return f"Patient/{golden}"


async def _accessed(
    uow: UnitOfWork,
    request: Request,
    found: GoldenRecord | SourceRecord,
    resource: str,
    action: str,
) -> None:
    # ARCHITECTURE §9: every read of patient data is an access event (same transaction).
    await record_access(uow, request, patient=_patient_key(found), resource=resource, action=action)


async def _accessed_by_search(uow: UnitOfWork, request: Request, found: list[GoldenRecord]) -> None:
    if found:
        await record_accesses(
            uow,
            request,
            patients=[_patient_key(g) for g in found],
            resource="Patient",
            action="search",
            query=str(request.url.query),
        )


@router.get("/Patient")
async def search(request: Request, principal: Reader) -> Response:
    """PDQm Patient search (ITI-78)."""
    query = parse_search(list(request.query_params.multi_items()))
    async with unit_of_work(request) as uow:
        found = await search_patients(uow, query)
        await _accessed_by_search(uow, request, found)
    return fhir_response(searchset(_base(request), found))


@router.post("/Patient/_search")
async def search_post(request: Request, principal: Reader) -> Response:
    """PDQm search with form-encoded parameters."""
    form = parse_qsl((await request.body()).decode(), keep_blank_values=False)
    query = parse_search([*request.query_params.multi_items(), *form])
    async with unit_of_work(request) as uow:
        found = await search_patients(uow, query)
        await _accessed_by_search(uow, request, found)
    return fhir_response(searchset(_base(request), found))


async def _record(
    request: Request,
    ctx: IndexContext,
    principal: Writer,
    *,
    lookup_raw: str | None,
    create_only: bool,
) -> Response:
    body = await json_body(request)
    lookup = identifier_param(lookup_raw) if lookup_raw is not None else None
    expected = _if_match(request)
    async with mapped_errors():
        parsed = parse_patient(body, primary=lookup)
        for attempt in (1, 2):
            try:
                async with unit_of_work(request) as uow:
                    result = await record_identity(
                        uow,
                        ctx,
                        parsed.draft,
                        by=principal.subject,
                        lookup=lookup,
                        create_only=create_only,
                        expected_version=expected,
                    )
                    if parsed.replaced_by:
                        result = await replace_identity(
                            uow, ctx, result.source, parsed.replaced_by, by=principal.subject
                        )
                break
            except IdentifierTaken as exc:
                # A concurrent create of the same identifier won the race (the constraint
                # said so): the conditional update is retried once as an update.
                if create_only or attempt == 2 or exc.identifier != str(parsed.draft.identifier):
                    raise
    source = result.source
    headers = {
        "Location": f"{_base(request)}/Patient/{source.id}/_history/{source.version}",
        "ETag": f'W/"{source.version}"',
    }
    return fhir_response(
        source_resource(source), status=201 if result.created else 200, headers=headers
    )


def _if_match(request: Request) -> int | None:
    """The version named by If-Match (FHIR versioned update: ``W/"3"``), if any."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Problem(400, "invalid-header", f'If-Match {raw!r} is not a version (W/"n")')
    return int(value)


@router.post("/Patient")
async def create(request: Request, ctx: Ctx, principal: Writer) -> Response:
    """Create a source record (409 when one of its identifiers is already bound)."""
    return await _record(request, ctx, principal, lookup_raw=None, create_only=True)


@router.put("/Patient")
async def conditional_update(request: Request, ctx: Ctx, principal: Writer) -> Response:
    """ITI-104 Patient Identity Feed: ``PUT Patient?identifier=system|value`` creates or
    updates; ``active=false`` with ``link replaced-by`` merges."""
    raw = request.query_params.get("identifier")
    if raw is None:
        raise Problem(400, "invalid-parameter", "PUT Patient needs ?identifier=system|value")
    return await _record(request, ctx, principal, lookup_raw=raw, create_only=False)


@router.get("/Patient/{patient_id}")
async def read(patient_id: str, request: Request, principal: Reader) -> Response:
    """A golden record (master patient) or a source record by id."""
    uid = parse_uuid(patient_id)
    async with mapped_errors(), unit_of_work(request) as uow:
        found = await read_patient(uow, uid)
        await _accessed(uow, request, found, f"Patient/{patient_id}", "read")
    body = golden_resource(found) if isinstance(found, GoldenRecord) else source_resource(found)
    return fhir_response(body, headers={"ETag": f'W/"{found.version}"'})


@router.get("/Patient/{patient_id}/_history/{version_id}")
async def vread(patient_id: str, version_id: str, request: Request, principal: Reader) -> Response:
    """The current version by its id (earlier versions are in the journal, not served)."""
    uid = parse_uuid(patient_id)
    async with mapped_errors(), unit_of_work(request) as uow:
        found = await read_patient(uow, uid)
        await _accessed(uow, request, found, f"Patient/{patient_id}", "vread")
    if version_id != str(found.version):
        raise Problem(
            404,
            "version-not-found",
            f"Patient/{patient_id} version {version_id} is not the current one "
            f"({found.version}); only the current version is served",
        )
    body = golden_resource(found) if isinstance(found, GoldenRecord) else source_resource(found)
    return fhir_response(body, headers={"ETag": f'W/"{found.version}"'})
