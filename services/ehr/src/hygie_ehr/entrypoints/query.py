"""ITS-REST Query API (``/query/aql``, ``/query/{qualified_query_name}[/{version}]``) and
the stored-query part of the Definition API (``/definition/query``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import APIRouter, Request, Response

from hygie_platform.access import record_query
from hygie_platform.http import Problem
from hygie_platform.security import issue_token

from ..aql import AqlError, AqlSyntaxError, Unsupported
from ..aql.terminology import ValueSetExpander
from ..service.query import QueryLimits, QueryTimeout, ResultSet, run_aql
from ..service.stored_queries import (
    StoredQuery,
    get_stored_query,
    list_stored_queries,
    store_query,
)
from .http.common import MAX_BODY, Reader, Writer, json_response, mapped_errors, read_body, uow

router = APIRouter(prefix="/openehr/v1", tags=["Query"])

_RESERVED = {"q", "offset", "fetch", "query_parameters"}
GENERATOR = "Hygie EHR store (hygie-ehr 0.1.0)"


@contextlib.contextmanager
def query_errors() -> Iterator[None]:
    """AQL errors as openEHR error bodies: syntax 400 (line, column, expected), evaluation
    400, unsupported feature 422, timeout 408."""
    try:
        with mapped_errors():
            yield
    except AqlSyntaxError as exc:
        raise Problem(
            400,
            "aql-syntax-error",
            f"AQL syntax error at {exc}",
            line=exc.line,
            column=exc.column,
            expected=exc.expected,
        ) from None
    except Unsupported as exc:
        raise Problem(422, "aql-unsupported", str(exc)) from None
    except AqlError as exc:
        raise Problem(400, "aql-invalid", str(exc)) from None
    except QueryTimeout as exc:
        raise Problem(408, "query-timeout", str(exc)) from None


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Problem(400, "bad-request", f"{name} must be a whole number") from None
    if number < 0:
        raise Problem(400, "bad-request", f"{name} must not be negative")
    return number


def _ehr_scope(request: Request) -> UUID | None:
    """ITS-REST: a single-EHR query names its EHR in ``openehr-ehr-id`` or ``?ehr_id=``."""
    raw = request.headers.get("openehr-ehr-id") or request.query_params.get("ehr_id")
    if raw is None:
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        raise Problem(400, "bad-request", f"EHR id {raw!r} is not a UUID") from None


def _get_parameters(request: Request) -> dict[str, Any]:
    """Every URL parameter but q/offset/fetch is an AQL parameter (repeated: a list);
    ``query_parameters`` may also carry them URL-encoded."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in _RESERVED]
    pairs += parse_qsl(request.query_params.get("query_parameters") or "")
    parameters: dict[str, Any] = {}
    for key, value in pairs:
        if key in parameters:
            previous = parameters[key]
            parameters[key] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
        else:
            parameters[key] = value
    return parameters


def _limits(request: Request) -> QueryLimits:
    limits: QueryLimits = request.app.state.query_limits
    return limits


def result_set(request: Request, result: ResultSet, *, name: str | None = None) -> Response:
    """The ITS-REST RESULT_SET: ``meta``, ``q``, ``columns``, ``rows``."""
    body: dict[str, Any] = {
        "meta": {
            "_href": str(request.url),
            "_type": "RESULTSET",
            "_schema_version": "1.0.0",
            "_created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "_generator": GENERATOR,
            "_executed_aql": result.q,
            "resultsize": len(result.rows),
        },
        "q": result.q,
        "columns": [
            {"name": c.name, "path": c.path} if c.path else {"name": c.name} for c in result.columns
        ],
        "rows": result.rows,
    }
    if name:
        body["name"] = name
    return json_response(body)


def _expander(request: Request) -> ValueSetExpander:
    """The terminology service of the platform settings (``HYGIE_TERMINOLOGY_URL``, else
    its local address), called with a token of the embedded issuer."""
    state = request.app.state
    expander: ValueSetExpander | None = getattr(state, "terminology", None)
    if expander is None:
        settings = state.runtime.settings
        expander = ValueSetExpander(
            settings.url_of("terminology"),
            token=partial(issue_token, settings, user="ehr", roles=("integration",)),
        )
        state.terminology = expander
    return expander


async def _run(
    request: Request,
    q: Any,
    parameters: Any,
    offset: Any,
    fetch: Any,
    *,
    name: str | None = None,
) -> Response:
    if not isinstance(q, str) or not q.strip():
        raise Problem(400, "bad-request", "q (the AQL statement) is required")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise Problem(400, "bad-request", "query_parameters must be an object")
    scope = _ehr_scope(request)
    with query_errors():
        async with uow(request)() as u:
            result = await run_aql(
                u,
                q,
                parameters=parameters,
                ehr_id=scope,
                offset=_int(offset, "offset"),
                fetch=_int(fetch, "fetch"),
                limits=_limits(request),
                expand=_expander(request),
            )
            # ARCHITECTURE §9: one access event for the query, naming the patients whose
            # data its result holds (none for aggregates)
            await record_query(
                u,
                request,
                patients=result.patients,
                resource=f"Query/{name}" if name else "Query/aql",
                query=q,
                parameters=parameters,
                rows=len(result.rows),
            )
    return result_set(request, result, name=name)


@router.get("/query/aql")
async def get_aql(request: Request, principal: Reader) -> Response:
    """Execute an ad hoc AQL statement given as ``q``."""
    params = request.query_params
    return await _run(
        request,
        params.get("q"),
        _get_parameters(request),
        params.get("offset"),
        params.get("fetch"),
    )


@router.post("/query/aql")
async def post_aql(request: Request, principal: Reader) -> Response:
    """Execute an ad hoc AQL statement given in the JSON body."""
    body = await read_body(request)
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", "the body must be an object with q")
    return await _run(
        request, body.get("q"), body.get("query_parameters"), body.get("offset"), body.get("fetch")
    )


async def _stored(request: Request, name: str, version: str | None) -> StoredQuery:
    with query_errors():
        async with uow(request)() as u:
            return await get_stored_query(u, name, version)


@router.get("/query/{qualified_query_name}")
@router.get("/query/{qualified_query_name}/{version}")
async def get_stored(
    request: Request, principal: Reader, qualified_query_name: str, version: str | None = None
) -> Response:
    """Execute a stored query (latest version, or the latest matching a partial version)."""
    stored = await _stored(request, qualified_query_name, version)
    params = request.query_params
    return await _run(
        request,
        stored.q,
        _get_parameters(request),
        params.get("offset"),
        params.get("fetch"),
        name=stored.name,
    )


@router.post("/query/{qualified_query_name}")
@router.post("/query/{qualified_query_name}/{version}")
async def post_stored(
    request: Request, principal: Reader, qualified_query_name: str, version: str | None = None
) -> Response:
    body = await read_body(request, required=False) or {}
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", "the body must be an object")
    stored = await _stored(request, qualified_query_name, version)
    return await _run(
        request,
        stored.q,
        body.get("query_parameters"),
        body.get("offset"),
        body.get("fetch"),
        name=stored.name,
    )


def _definition(stored: StoredQuery) -> dict[str, Any]:
    return {
        "name": stored.name,
        "type": stored.query_type,
        "version": stored.version,
        "saved": stored.saved.isoformat(),
        "q": stored.q,
    }


@router.put("/definition/query/{qualified_query_name}")
@router.put("/definition/query/{qualified_query_name}/{version}")
async def put_definition(
    request: Request, principal: Writer, qualified_query_name: str, version: str | None = None
) -> Response:
    """Store an AQL query (the body is the statement as text, or ``{"q": ...}``)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, "body-too-large", f"the body exceeds {MAX_BODY} bytes")
    text = raw.decode("utf-8", errors="replace").strip()
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_body(request)
        text = body.get("q", "") if isinstance(body, dict) else ""
    if not text:
        raise Problem(400, "bad-request", "the body must hold the AQL statement")
    query_type = request.query_params.get("query_type", "AQL")
    with query_errors():
        async with uow(request)() as u:
            stored = await store_query(
                u,
                name=qualified_query_name,
                version=version,
                q=text,
                query_type=query_type,
                saved_by=principal.subject,
                now=datetime.now(UTC),
            )
    location = f"{request.base_url}openehr/v1/definition/query/{stored.name}/{stored.version}"
    return json_response(_definition(stored), headers={"Location": location})


@router.get("/definition/query")
@router.get("/definition/query/{qualified_query_name}")
async def list_definitions(
    request: Request, principal: Reader, qualified_query_name: str | None = None
) -> Response:
    """Every stored query (of one name when given), each version."""
    async with uow(request)() as u:
        found = await list_stored_queries(u, qualified_query_name)
    if qualified_query_name and not found:
        raise Problem(404, "not-found", f"no stored query {qualified_query_name}")
    return json_response([_definition(s) for s in found])


@router.get("/definition/query/{qualified_query_name}/{version}")
async def get_definition(
    request: Request, principal: Reader, qualified_query_name: str, version: str
) -> Response:
    stored = await _stored(request, qualified_query_name, version)
    return json_response(_definition(stored))
