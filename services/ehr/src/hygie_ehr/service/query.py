"""Use case: run an AQL statement (ad hoc or stored) and answer its result set."""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.exc import DBAPIError

from hygie_platform.uow import UnitOfWork

from ..aql import AqlError, ResultColumn, compile_query, parse
from ..aql.expressions import terminology_refs
from ..aql.rmjson import attribute_of
from ..aql.rmjson import typed_value as with_types
from .errors import BadRequest, EhrError, Unprocessable

__all__ = [
    "QueryLimits",
    "QueryTimeout",
    "ResultSet",
    "TooManyRows",
    "patients_of",
    "run_aql",
]


#: a containment chain joins many relations (entries, documents, versions, list elements):
#: let the planner reorder them all rather than follow the order they are written in
JOIN_COLLAPSE = 12

#: planner settings of every AQL statement (for its transaction only): join order free, and
#: index probes costed for a working set in memory or on SSD (a random page read costs about
#: a sequential one: the default 4 makes an index-only count of composition heads lose to a
#: scan of the whole table, 2.5 times slower)
PLANNER = {
    "join_collapse_limit": str(JOIN_COLLAPSE),
    "from_collapse_limit": str(JOIN_COLLAPSE),
    "random_page_cost": "1.1",
}


#: syntax trees are immutable: the statements a service runs again and again (an app's,
#: stored queries) are parsed once (0.6 ms each for a three-path statement)
_parsed = functools.lru_cache(maxsize=512)(parse)


def _setting(name: str, default: int) -> int:
    """A positive integer from the environment (``HYGIE_EHR_AQL_...``), else ``default``."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Row cap (a bigger result without LIMIT/fetch is refused) and statement timeout;
    configurable with ``HYGIE_EHR_AQL_MAX_ROWS`` and ``HYGIE_EHR_AQL_TIMEOUT_MS``."""

    max_rows: int = field(default_factory=lambda: _setting("HYGIE_EHR_AQL_MAX_ROWS", 10_000))
    timeout_ms: int = field(default_factory=lambda: _setting("HYGIE_EHR_AQL_TIMEOUT_MS", 30_000))


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
    patients: tuple[str, ...] | None = ()
    """the patients whose data the result holds, each once (for the access log); None
    when the rows are aggregates naming no patient"""


async def run_aql(
    uow: UnitOfWork,
    q: str,
    *,
    parameters: dict[str, Any] | None = None,
    ehr_id: UUID | None = None,
    offset: int | None = None,
    fetch: int | None = None,
    limits: QueryLimits | None = None,
    expand: Callable[[str], Awaitable[list[str]]] | None = None,
) -> ResultSet:
    """Parse (``AqlSyntaxError``), compile (``AqlError``) and run a statement; ``expand``
    answers the codes of a ``terminology://`` value set (MATCHES)."""
    limits = limits or QueryLimits()
    query = _parsed(q)
    expansions = {}
    if expand is not None:
        expansions = {uri: await expand(uri) for uri in sorted(terminology_refs(query.where))}
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
    compiled = compile_query(
        query, parameters, ehr_id=ehr_id, limit=limit, offset=offset, expansions=expansions
    )
    # the JSON of each cell as text, parsed by orjson below (not the driver's json.loads)
    typed = [sa.column(f"c{i}", sa.Text) for i in range(len(compiled.columns))]
    if compiled.ehr_column:
        typed.append(sa.column("_ehr", sa.Text))
    elif compiled.ehr_arrays:
        typed.append(sa.column("_ehr", ARRAY(PG_UUID(as_uuid=True))))
    statement = sa.text(compiled.sql).columns(*typed)
    conn = uow.connection
    # each statement planned for its values (a cached generic plan would guess the
    # selectivity of a date range or an archetype and could loop over a whole table; for a
    # single-EHR statement the generic plan measured twice as slow as planning each time)
    planner = "".join(f", set_config('{k}', '{v}', true)" for k, v in PLANNER.items())
    await conn.execute(
        sa.text(
            "SELECT set_config('statement_timeout', :t, true),"
            f" set_config('plan_cache_mode', 'force_custom_plan', true){planner}"
        ),
        {"t": str(limits.timeout_ms)},
    )
    # the settings last until the end of the transaction (a failed statement ends it: the
    # unit of work rolls back), so no savepoint nor reset: fewer round trips per query
    try:
        rows = [list(r) for r in (await conn.execute(statement, compiled.values)).all()]
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "57014" or "canceling statement" in str(exc):
            raise QueryTimeout(
                f"the query was cancelled after {limits.timeout_ms} ms (statement timeout)"
            ) from None
        message = str(getattr(exc.orig, "args", [exc])[0]).split("\n")[0]
        raise AqlError(f"the query could not be evaluated: {message}") from None
    patients: tuple[str, ...] | None = None
    if compiled.ehr_column:
        patients = tuple(dict.fromkeys(p for row in rows if (p := row.pop()) is not None))
    elif compiled.ehr_arrays:
        ehr_ids = {e for row in rows for e in (row.pop() or ()) if e is not None}
        patients = tuple(await patients_of(uow, tuple(ehr_ids)))
    elif not compiled.aggregated:
        patients = ()
    if capped and len(rows) > limits.max_rows:
        raise TooManyRows(
            f"the query returns more than {limits.max_rows} rows: "
            "add LIMIT (or fetch) to page through the result"
        )
    attributes = [attribute_of(c.path) for c in compiled.columns]
    loads = orjson.loads
    rows = [
        [None if v is None else with_types(loads(v), attributes[i]) for i, v in enumerate(row)]
        for row in rows
    ]
    return ResultSet(q, compiled.columns, rows, compiled.sql, patients)


async def patients_of(uow: UnitOfWork, ehr_ids: tuple[UUID, ...]) -> list[str]:
    """The patient of each EHR as ``namespace|id`` (``EHR/<id>`` for an EHR without subject)."""
    if not ehr_ids:
        return []
    rows = await uow.connection.execute(
        sa.text("SELECT ehr_id, subject_namespace, subject_id FROM ehr WHERE ehr_id = ANY(:ids)"),
        {"ids": list(ehr_ids)},
    )
    return [
        f"{r.subject_namespace}|{r.subject_id}" if r.subject_id else f"EHR/{r.ehr_id}" for r in rows
    ]
