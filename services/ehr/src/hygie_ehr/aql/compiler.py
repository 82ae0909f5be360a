"""AQL → one parameterised PostgreSQL statement.

The SELECT runs over the FROM sources (see ``sources``); selected paths with several
values give one row each (a lateral ``jsonb_path_query``), WHERE and ORDER BY read the
first value at a path. ORDER BY may name any path, selected or not: the statement is
wrapped so that ordering happens on the projected (and DISTINCT) rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .ast import Column, FunctionCall, IdentifiedPath, OrderItem, Query
from .binds import AqlError, Binds
from .expressions import ExpressionCompiler, interval
from .functions import aggregate, has_aggregate
from .sources import Piece, build_from

__all__ = ["Compiled", "ResultColumn", "compile_query"]


@dataclass(frozen=True, slots=True)
class ResultColumn:
    name: str
    path: str | None


@dataclass(frozen=True, slots=True)
class Compiled:
    """The statement; the patients it read come as a last extra column: the patient of
    each row (``ehr_column``: ``namespace|id``, ``EHR/<id>`` without subject) or, for
    DISTINCT and aggregating queries, the array of the EHRs each row was computed from
    (``ehr_arrays``)."""

    sql: str
    values: dict[str, Any]
    columns: tuple[ResultColumn, ...]
    ehr_column: bool = False
    ehr_arrays: bool = False
    aggregated: bool = False
    """the rows are aggregates grouped by keys that name no patient: no EHR is listed"""


def _column_meta(i: int, column: Column) -> ResultColumn:
    """ITS-REST column: ``name`` (the alias, else ``#i``) and, for an identified path, its
    ``path`` (functions and primitives have none, as EHRbase answers)."""
    expr = column.expr
    path = (expr.text or expr.variable) if isinstance(expr, IdentifiedPath) else None
    return ResultColumn(column.alias or f"#{i}", path)


def compile_query(
    query: Query,
    parameters: dict[str, Any] | None = None,
    *,
    ehr_id: UUID | None = None,
    limit: int | None = None,
    offset: int | None = None,
    expansions: dict[str, list[str]] | None = None,
) -> Compiled:
    """The SQL of ``query`` with its bound values (``AqlError``/``Unsupported`` otherwise).

    ``ehr_id`` limits every EHR-rooted source to one EHR (ITS-REST ``openehr-ehr-id``);
    ``limit``/``offset`` apply when the statement has no LIMIT/OFFSET of its own;
    ``expansions`` holds the codes of the ``terminology://`` value sets of MATCHES."""
    binds = Binds(dict(parameters or {}))
    missing = sorted(query.parameters - set(binds.parameters))
    if missing:
        raise AqlError("missing query parameter(s): " + ", ".join(f"${m}" for m in missing))
    scope = binds.add(str(ehr_id), "uuid") if ehr_id else None
    clause = build_from(query.from_, binds, scope)
    expressions = ExpressionCompiler(clause, binds, expansions)
    grouped = any(has_aggregate(c.expr) for c in query.columns)

    selected: list[str] = []
    group_by: list[str] = []  # the non-aggregated columns, when some are aggregated
    for column in query.columns:
        expr = column.expr
        if has_aggregate(expr):
            assert isinstance(expr, FunctionCall)
            selected.append(aggregate(expressions, expr))
            continue
        sql = expressions.operand(expr)
        selected.append(sql)
        group_by.append(sql)
    user_where = expressions.condition(query.where) if query.where is not None else None

    order_sql: list[str] = []
    extra: list[str] = []
    collapsed = False  # DISTINCT rows ordered by another path: grouped instead
    for item in query.order_by:
        index = _selected_index(query, item, clause.sources)
        if index is not None:
            target = f"q.c{index}"
        else:
            direction = "DESC" if item.descending else "ASC"
            if has_aggregate(item.expr):
                if not grouped:
                    raise AqlError("ORDER BY an aggregate requires aggregate functions in SELECT")
                assert isinstance(item.expr, FunctionCall)
                extra.append(aggregate(expressions, item.expr))
            elif query.distinct or grouped:
                # a value per result row: the first in the requested order among the rows
                # it stands for (each distinct row or group sorts where it first appears)
                key = f"aql_ordered({expressions.operand(item.expr)})"
                extra.append(f"(array_agg({key} ORDER BY {key} {direction} NULLS LAST))[1]")
                collapsed = True
            else:
                extra.append(expressions.operand(item.expr))
            target = f"q.o{len(extra) - 1}"
        direction = "DESC" if item.descending else "ASC"
        typed = None
        if not (query.distinct or grouped) and _is_path_of(item.expr, clause.sources):
            typed = expressions.start_time(item.expr)
        if typed is not None:
            # the path's RM type is known (DV_DATE_TIME): the instant the start-time index
            # holds, not a per-row test of every type; equal instants as AQL orders values
            extra.append(typed)
            order_sql.append(f"q.o{len(extra) - 1} {direction}")
            order_sql.append(f"aql_ordered({target}) {direction}")
            continue
        # durations by length (P40D after PT30M)
        duration = f"CASE WHEN {target} ->> '_type' = 'DV_DURATION' THEN {interval(target)} END"
        order_sql.append(f"{duration} {direction}")
        # dates and date-times as instants (offsets differ), then as AQL orders values
        order_sql.append(f"aql_ts(aql_text({target})) {direction}")
        order_sql.append(f"aql_ordered({target}) {direction}")  # NULL is greatest, as EHRbase

    clause.pieces.extend(Piece("LEFT JOIN", lateral, "true") for lateral in expressions.laterals)
    from_sql = clause.render()  # after every expression: joins the documents used
    where_all = clause.where + ([user_where] if user_where else [])
    projection = [f"{sql} AS c{i}" for i, sql in enumerate(selected)]
    projection += [f"{sql} AS o{i}" for i, sql in enumerate(extra)]
    ehrs = _unique([s.ehr for s in clause.sources.values() if s.bound and s.ehr])
    ehr_sql = f"coalesce({', '.join(ehrs)})" if ehrs else None
    plain = not (query.distinct or grouped)
    aggregated = grouped and not any(
        _identifying(c.expr, clause.sources) for c in query.columns if not has_aggregate(c.expr)
    )
    if aggregated:
        ehr_sql = None  # counts, sums... over records: no patient's data row by row
    if plain and ehr_sql:
        projection.append(f"{ehr_sql} AS _ehr")
    elif ehr_sql:  # each result row lists the EHRs it was computed from (the access log)
        projection.append(f"array_agg({ehr_sql}) AS _ehr")  # made distinct in Python
        collapsed = collapsed or query.distinct  # DISTINCT as GROUP BY: same rows
    distinct = "DISTINCT " if query.distinct and not collapsed else ""
    where_sql = ("\nWHERE " + "\nAND ".join(_unique(where_all))) if where_all else ""
    inner = f"SELECT {distinct}{', '.join(projection)}\n{from_sql}{where_sql}"
    if (grouped or collapsed) and group_by:
        keys = [
            _group_key(i, selected[i])
            for i, c in enumerate(query.columns)
            if not has_aggregate(c.expr)
        ]
        inner += "\nGROUP BY " + ", ".join(keys)
    # each cell as JSON text: parsed by orjson in the service, not by the driver
    outer_cols = ", ".join(f"q.c{i}::text AS c{i}" for i in range(len(selected)))
    if ehr_sql and plain:  # the patient of each answered row (after LIMIT: a probe each)
        outer_cols += f", {PATIENT_OF.format('q._ehr')} AS _ehr"
    elif ehr_sql:
        outer_cols += ", q._ehr"
    sql = f"SELECT {outer_cols} FROM (\n{inner}\n) q"
    if order_sql:
        sql += "\nORDER BY " + ", ".join(order_sql)
    effective_limit = query.limit if query.limit is not None else limit
    effective_offset = query.offset if query.offset is not None else offset
    if effective_limit is not None:
        sql += f"\nLIMIT {binds.add(int(effective_limit), 'bigint')}"
    if effective_offset:
        sql += f"\nOFFSET {binds.add(int(effective_offset), 'bigint')}"
    columns = tuple(_column_meta(i, c) for i, c in enumerate(query.columns))
    return Compiled(
        sql,
        binds.values,
        columns,
        bool(plain and ehr_sql),
        bool(ehr_sql and not plain),
        aggregated,
    )


#: SQL: the patient of an EHR id, as the access log names it
PATIENT_OF = (
    "(SELECT CASE WHEN coalesce(p.subject_id, '') <> ''"
    " THEN concat(p.subject_namespace, '|', p.subject_id) ELSE 'EHR/' || p.ehr_id::text END"
    " FROM ehr p WHERE p.ehr_id = {})"
)

#: attributes whose value names one patient's record (a group per value is per patient)
_IDENTIFYING = {"uid", "ehr_id", "subject", "external_ref", "id"}


def _identifying(expr: object, sources: dict[str, Any]) -> bool:
    """Whether a grouping key may name a patient: anything of an EHR or EHR_STATUS, whole
    objects, uids and ids (a template id, a code, a name is not; a function is judged by its
    arguments)."""
    if isinstance(expr, FunctionCall):
        return any(_identifying(a, sources) for a in expr.args)
    if not isinstance(expr, IdentifiedPath):
        return False
    source = sources.get(expr.variable)
    if source is None or source.kind in ("ehr", "status") or not expr.steps:
        return True
    return any(s.attribute in _IDENTIFYING for s in expr.steps)


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


_COLUMN_AS_JSON = re.compile(r"^to_jsonb\((\w+\.\w+)\)$")


def _group_key(i: int, sql: str) -> str:
    """A column read as JSON (``to_jsonb(n1.template_id)``) is grouped by the column itself,
    which an index may hold in order (the JSON is the same value); others by position."""
    column = _COLUMN_AS_JSON.match(sql)
    return column.group(1) if column else str(i + 1)


def _is_path_of(expr: object, sources: dict[str, Any]) -> bool:
    return isinstance(expr, IdentifiedPath) and expr.variable in sources


def _text(item: OrderItem) -> str:
    expr = item.expr
    return getattr(expr, "text", "") or getattr(expr, "variable", "") or "this expression"


def _selected_index(query: Query, item: OrderItem, sources: dict[str, Any]) -> int | None:
    expr = item.expr
    for i, column in enumerate(query.columns):
        if isinstance(expr, IdentifiedPath):
            if not expr.steps and expr.variable not in sources and column.alias == expr.variable:
                return i
            target = column.expr
            if isinstance(target, IdentifiedPath) and (target.variable, target.steps) == (
                expr.variable,
                expr.steps,
            ):
                return i
        elif isinstance(expr, FunctionCall) and column.expr == expr:
            return i
    return None
