"""Use case: run an AQL statement (ad hoc or stored) and answer its result set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError

from hygie_platform.uow import UnitOfWork

from ..aql import AqlError, ResultColumn, compile_query, parse
from .errors import BadRequest, EhrError, Unprocessable

__all__ = ["QueryLimits", "QueryTimeout", "ResultSet", "TooManyRows", "run_aql"]


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Row cap (a bigger result without LIMIT/fetch is refused) and statement timeout."""

    max_rows: int = 10_000
    timeout_ms: int = 30_000


class QueryTimeout(EhrError):
    """The statement ran longer than the configured timeout and was cancelled (408)."""


class TooManyRows(Unprocessable):
    """The result is larger than the row cap and the query set no LIMIT nor fetch."""


@dataclass(frozen=True, slots=True)
class ResultSet:
    q: str
    columns: tuple[ResultColumn, ...]
    rows: list[list[Any]]
    sql: str


async def run_aql(
    uow: UnitOfWork,
    q: str,
    *,
    parameters: dict[str, Any] | None = None,
    ehr_id: UUID | None = None,
    offset: int | None = None,
    fetch: int | None = None,
    limits: QueryLimits = QueryLimits(),
) -> ResultSet:
    """Parse (``AqlSyntaxError``), compile (``AqlError``) and run a statement."""
    query = parse(q)
    if fetch is not None and query.limit is not None:
        raise BadRequest("the statement has a LIMIT: give either LIMIT or fetch, not both")
    if offset is not None and query.offset is not None:
        raise BadRequest("the statement has an OFFSET: give either OFFSET or offset, not both")
    if (fetch is not None and fetch < 0) or (offset is not None and offset < 0):
        raise BadRequest("fetch and offset must not be negative")
    if fetch is not None and fetch > limits.max_rows:
        raise BadRequest(f"fetch is limited to {limits.max_rows} rows")
    capped = fetch is None and query.limit is None
    limit = limits.max_rows + 1 if capped else fetch
    compiled = compile_query(query, parameters, ehr_id=ehr_id, limit=limit, offset=offset)
    statement = sa.text(compiled.sql).columns(
        *(sa.column(f"c{i}", JSONB) for i in range(len(compiled.columns)))
    )
    conn = uow.connection
    await conn.execute(
        sa.text("SELECT set_config('statement_timeout', :t, true)"),
        {"t": str(limits.timeout_ms)},
    )
    try:
        async with conn.begin_nested():
            result = await conn.execute(statement, compiled.values)
            rows = [list(r) for r in result.all()]
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "57014" or "canceling statement" in str(exc):
            raise QueryTimeout(
                f"the query was cancelled after {limits.timeout_ms} ms (statement timeout)"
            ) from None
        message = str(getattr(exc.orig, "args", [exc])[0]).split("\n")[0]
        raise AqlError(f"the query could not be evaluated: {message}") from None
    if capped and len(rows) > limits.max_rows:
        raise TooManyRows(
            f"the query returns more than {limits.max_rows} rows: "
            "add LIMIT (or fetch) to page through the result"
        )
    return ResultSet(q, compiled.columns, rows, compiled.sql)
