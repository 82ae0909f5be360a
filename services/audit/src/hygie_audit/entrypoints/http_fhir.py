"""FHIR R4 AuditEvent under /fhir: the ATX feed (ITI-20, resource or Bundle), search
(ITI-81 style) and read. Errors are OperationOutcome resources (``fhir_errors``)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from hygie_platform.http import Problem

from ..domain.records import InvalidAuditEvent
from ..service.ingest import receive_audit_events
from ..service.search import InvalidSearch, SearchQuery, read_event, search_events
from .auth import PRIVACY_OFFICER, require
from .fhir_errors import FHIR_JSON, FhirRoute

__all__ = ["router"]

router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
FEED = Depends(require("integration", "admin"))
READ = Depends(require("admin", PRIVACY_OFFICER))
#: AuditEvent search parameters (and the result parameters) this server understands.
SEARCH_PARAMETERS = frozenset(
    {"patient", "agent", "date", "type", "subtype", "action", "outcome", "entity"}
    | {"_count", "_cursor", "_format"}
)


def _fhir(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


@router.post("/AuditEvent", dependencies=[FEED])
async def post_audit_event(request: Request) -> Response:
    """Record one AuditEvent (201 + Location) or a Bundle of them (all or none)."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "invalid-json", f"the body is not JSON: {exc}") from None
    is_bundle = isinstance(body, dict) and body.get("resourceType") == "Bundle"
    if is_bundle:
        entries = body.get("entry") or []
        if not isinstance(entries, list) or not entries:
            raise Problem(
                400, "invalid-audit-event", "at least one AuditEvent", path="Bundle.entry"
            )
        resources: list[Any] = [e.get("resource") if isinstance(e, dict) else None for e in entries]
    else:
        resources = [body]
    try:
        async with request.app.state.uow() as uow:
            ids = await receive_audit_events(uow, resources)
    except InvalidAuditEvent as exc:
        where = "AuditEvent" if exc.path == "(root)" else exc.path
        if is_bundle:  # AuditEvent.x of entry i is Bundle.entry[i].resource.x
            inner = exc.path.partition(".")[2] if exc.path.startswith("AuditEvent.") else ""
            where = f"Bundle.entry[{exc.index}].resource" + (f".{inner}" if inner else "")
        raise Problem(422, "invalid-audit-event", f"{where}: {exc.message}", path=where) from None
    if not is_bundle:
        return _fhir(
            {**resources[0], "id": str(ids[0])},
            201,
            {"Location": f"/fhir/AuditEvent/{ids[0]}"},
        )
    kind = "transaction-response" if body.get("type") == "transaction" else "batch-response"
    return _fhir(
        {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {"response": {"status": "201 Created", "location": f"AuditEvent/{i}"}} for i in ids
            ],
        }
    )


@router.get("/AuditEvent", dependencies=[READ])
async def search(
    request: Request,
    patient: str | None = None,
    agent: str | None = None,
    date: Annotated[list[str] | None, Query()] = None,
    type: str | None = None,
    subtype: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    entity: str | None = None,
    count: Annotated[int, Query(alias="_count")] = 50,
    cursor: Annotated[int, Query(alias="_cursor")] = -1,
) -> Response:
    """Searchset Bundle in log order; ``next`` link continues after the last position.
    Unknown parameters are ignored, or refused with ``Prefer: handling=strict`` (FHIR R4
    search: handling of unknown parameters)."""
    unknown = sorted(set(request.query_params) - SEARCH_PARAMETERS)
    if unknown and "handling=strict" in request.headers.get("prefer", ""):
        raise Problem(
            400,
            "invalid-search",
            f"unknown search parameter {unknown[0]!r}"
            f" (known: {', '.join(sorted(SEARCH_PARAMETERS))})",
            path=unknown[0],
        )
    query = SearchQuery(
        patient=patient,
        agent=agent,
        dates=tuple(date or ()),
        type=type,
        subtype=subtype,
        action=action,
        outcome=outcome,
        entity=entity,
        count=count,
        after=cursor,
    )
    try:
        async with request.app.state.audit_engine.connect() as conn:
            found, after = await search_events(conn, query)
    except InvalidSearch as exc:
        raise Problem(400, "invalid-search", str(exc), path=exc.param) from None
    links = [{"relation": "self", "url": str(request.url)}]
    if after is not None:
        links.append(
            {"relation": "next", "url": str(request.url.include_query_params(_cursor=after))}
        )
    return _fhir(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": links,
            "entry": [
                {"fullUrl": f"AuditEvent/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in found
            ],
        }
    )


@router.get("/AuditEvent/{event_id}", dependencies=[READ])
async def read(request: Request, event_id: str) -> Response:
    async with request.app.state.audit_engine.connect() as conn:
        found = await read_event(conn, event_id)
    if found is None:
        raise Problem(
            404,
            "not-found",
            f"no AuditEvent {event_id} in the log (it may still "
            "be waiting for its position, or was purged by retention)",
        )
    return _fhir(found)
