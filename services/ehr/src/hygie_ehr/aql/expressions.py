"""WHERE and operands: identified paths, values and functions as ``jsonb`` SQL, conditions
as boolean SQL. Comparisons follow AQL: a DV_ORDERED value compares by its magnitude or
value, numbers numerically, ISO 8601 dates and times as instants, the rest as text."""

from __future__ import annotations

import re
from typing import Any

from .ast import (
    AndCondition,
    Comparison,
    Condition,
    Exists,
    FunctionCall,
    IdentifiedPath,
    Like,
    Literal,
    Matches,
    NotCondition,
    Operand,
    OrCondition,
    Parameter,
    PathStep,
    TerminologyRef,
    Value,
)
from .binds import AqlError, Binds, Unsupported
from .functions import call_function
from .nodes import MULTIPLE, jsonpath, uuid_condition, uuid_or_none
from .sources import FromClause, Source

__all__ = ["ExpressionCompiler", "interval", "like_pattern", "terminology_refs"]


def terminology_refs(cond: Condition | None) -> set[str]:
    """The ``terminology://`` value sets a WHERE clause matches against."""
    if cond is None:
        return set()
    if isinstance(cond, AndCondition | OrCondition):
        return terminology_refs(cond.left) | terminology_refs(cond.right)
    if isinstance(cond, NotCondition):
        return terminology_refs(cond.condition)
    if isinstance(cond, Matches):
        return {v.uri for v in cond.values if isinstance(v, TerminologyRef)}
    return set()


_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}.*)?$")
#: an ISO 8601 duration (DV_DURATION value), as PostgreSQL's interval input reads it
DURATION_SQL = "^-?P(?=.)([0-9]+([.,][0-9]+)?[YMWD])*(T(?=.)([0-9]+([.,][0-9]+)?[HMS])+)?$"
_DURATION_LIKE = re.compile(DURATION_SQL)


def like_pattern(pattern: str) -> str:
    """AQL LIKE → SQL LIKE: ``*`` and ``?`` are the wildcards, ``\\*``, ``\\?`` and ``\\\\``
    stand for themselves, ``%`` and ``_`` are literal."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "\\")
            out.append("\\" + ch if ch in "%_\\" else ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def interval(x: str) -> str:
    """SQL: the jsonb ``x`` (a DV_DURATION or its value) as an interval, NULL otherwise."""
    t = f"aql_text({x})"
    return f"(CASE WHEN {t} ~ '{DURATION_SQL}' THEN CAST({t} AS interval) END)"


_NUMBER_LIKE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_FLIP = {"=": "=", "!=": "!=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_SQL_OP = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _is_uid_value(operand: Operand) -> bool:
    if not isinstance(operand, IdentifiedPath) or len(operand.steps) != 2:
        return False
    return tuple(s.attribute for s in operand.steps) == ("uid", "value")


class ExpressionCompiler:
    """Compiles operands and conditions against the variables of a FROM clause."""

    def __init__(
        self, clause: FromClause, binds: Binds, expansions: dict[str, list[str]] | None = None
    ) -> None:
        self.clause = clause
        self.binds = binds
        #: the codes of each ``terminology://`` value set, expanded before compiling
        self.expansions = expansions or {}
        #: (variable, steps up to a list attribute) -> SQL of one element of that list
        self.nodes: dict[tuple[str, tuple[PathStep, ...]], str] = {}
        #: the lateral joins producing those elements, in dependency order
        self.laterals: list[str] = []

    # -- operands ----------------------------------------------------------------------

    def source(self, variable: str) -> Source:
        source = self.clause.sources.get(variable)
        if source is None:
            known = ", ".join(sorted(self.clause.sources)) or "none"
            raise AqlError(f"unknown variable {variable!r} (FROM defines: {known})")
        if not source.bound:
            raise AqlError(f"the variable {variable!r} is under NOT CONTAINS: it has no value")
        return source

    def is_ehr_id(self, path: Operand) -> Source | None:
        if not isinstance(path, IdentifiedPath):
            return None
        source = self.source(path.variable)
        steps = tuple(s.attribute for s in path.steps)
        if source.kind == "ehr" and steps == ("ehr_id", "value") and not path.steps[0].predicate:
            return source
        return None

    def anchor(self, path: IdentifiedPath) -> tuple[str, tuple[PathStep, ...]]:
        """The deepest list element the path goes through (one row per element: a lateral
        join shared by every path with the same prefix, so that SELECT, WHERE and ORDER BY
        speak of the same element) and the steps left below it."""
        source = self.source(path.variable)
        base, start = source.value_sql(), 0
        for i, step in enumerate(path.steps):
            if step.attribute not in MULTIPLE:
                continue
            key = (path.variable, path.steps[: i + 1])
            if key not in self.nodes:
                jp, variables = jsonpath(self.binds, path.steps[start : i + 1])
                alias = self.clause.alias("m")
                self.laterals.append(
                    f"LATERAL aql_elements({base}, {jp}, {variables}) AS {alias}(v)"
                )
                self.nodes[key] = f"{alias}.v"
            base, start = self.nodes[key], i + 1
        return base, path.steps[start:]

    def path(self, path: IdentifiedPath) -> str:
        """The value at the path (jsonb, NULL when absent), in the row's list elements."""
        ehr = self.is_ehr_id(path)
        if ehr is not None:
            return f"to_jsonb(({ehr.ehr})::text)"
        status = self.ehr_status(path)
        if status is not None:
            return status
        composition = self.composition(path, ("archetype_details", "template_id", "value"))
        if composition is not None:  # indexed with the entry: no need to read the document
            return f"to_jsonb({composition.alias}.template_id)"
        base, rest = self.anchor(path)
        if not rest:
            return base
        jp, variables = jsonpath(self.binds, rest)
        return f"jsonb_path_query_first({base}, {jp}, {variables})"

    def composition(self, operand: Operand, *attributes: tuple[str, ...]) -> Source | None:
        """The COMPOSITION source when ``operand`` is one of its plain attribute paths."""
        if not isinstance(operand, IdentifiedPath) or any(s.predicate for s in operand.steps):
            return None
        source = self.source(operand.variable)
        if source.kind != "entry" or source.rm_type != "COMPOSITION":
            return None
        steps = tuple(s.attribute for s in operand.steps)
        return source if steps in attributes else None

    def start_time(self, operand: Operand) -> str | None:
        """SQL of ``c/context/start_time[/value]`` as an instant, on the indexed expression."""
        source = self.composition(
            operand, ("context", "start_time", "value"), ("context", "start_time")
        )
        return None if source is None else f"aql_start_time({source.value_sql()})"

    def ehr_status(self, path: IdentifiedPath) -> str | None:
        """``e/ehr_status/...``: the EHR's current EHR_STATUS (not the OBJECT_REF the EHR
        holds), as EHRbase resolves it."""
        source = self.source(path.variable)
        if source.kind != "ehr" or not path.steps or path.steps[0].attribute != "ehr_status":
            return None
        source.value_sql()  # the EHR's row is joined (its EHR_STATUS id)
        h, v = self.clause.alias("h"), self.clause.alias("w")
        base = (
            f"(SELECT {v}.data FROM versioned_object {h} JOIN object_version {v}"
            f" ON {v}.vo_id = {h}.vo_id AND {v}.version = {h}.latest_version"
            f" WHERE {h}.vo_id = {source.alias}.ehr_status_id)"
        )
        rest = path.steps[1:]
        if path.steps[0].predicate is not None:
            raise AqlError("e/ehr_status takes no predicate")
        if not rest:
            return base
        jp, variables = jsonpath(self.binds, rest)
        return f"jsonb_path_query_first({base}, {jp}, {variables})"

    def value(self, value: Value) -> Any:
        return self.binds.parameter(value.name) if isinstance(value, Parameter) else value.value

    def operand(self, operand: Operand) -> str:
        if isinstance(operand, IdentifiedPath):
            return self.path(operand)
        if isinstance(operand, FunctionCall):
            return call_function(self, operand)
        return self.binds.json(self.value(operand))

    # -- conditions --------------------------------------------------------------------

    def condition(self, cond: Condition) -> str:
        if isinstance(cond, AndCondition):
            return f"({self.condition(cond.left)} AND {self.condition(cond.right)})"
        if isinstance(cond, OrCondition):
            return f"({self.condition(cond.left)} OR {self.condition(cond.right)})"
        if isinstance(cond, NotCondition):
            return f"(NOT {self.condition(cond.condition)})"
        if isinstance(cond, Exists):
            if self.is_ehr_id(cond.path):
                return "true"
            base, rest = self.anchor(cond.path)
            if not rest:
                return f"({base} IS NOT NULL)"
            jp, variables = jsonpath(self.binds, rest)
            return f"coalesce(jsonb_path_exists({base}, {jp}, {variables}), false)"
        if isinstance(cond, Like):
            return self.like(cond)
        if isinstance(cond, Matches):
            return self.matches(cond)
        return self.comparison(cond)

    def comparison(self, cond: Comparison) -> str:
        left, op, right = cond.left, cond.op, cond.right
        if isinstance(left, Literal | Parameter) and not isinstance(right, Literal | Parameter):
            left, op, right = right, _FLIP[op], left
        if isinstance(right, Literal | Parameter):
            ehr = self.is_ehr_id(left)
            if ehr is not None and op in ("=", "!="):
                return uuid_condition(self.binds, ehr.ehr, op, right)
            value = self.value(right)
            if _is_uid_value(left) and isinstance(value, str) and uuid_or_none(value) == value:
                # a bare object id names the versioned object: its uid's first part (as
                # EHRbase compares c/uid/value with a composition id)
                x = f"split_part(aql_text({self.operand(left)}), '::', 1)"
                return f"({x} {_SQL_OP[op]} {self.binds.text(value)})"
            start = self.start_time(left)
            if start is not None and isinstance(value, str) and _DATE_LIKE.match(value):
                # the indexed start time (migration ehr_0007): a period reads its rows only
                return f"({start} {_SQL_OP[op]} aql_ts({self.binds.text(value)}))"
            return self.against_value(self.operand(left), _SQL_OP[op], value)
        a, b = self.operand(left), self.operand(right)
        return f"(aql_ordered({a}) {_SQL_OP[op]} aql_ordered({b}))"

    def against_value(self, x: str, op: str, value: Any) -> str:
        if isinstance(value, list):
            raise AqlError("a multi-valued parameter can only be used with MATCHES")
        if value is None:
            return f"({x} IS NULL)" if op == "=" else f"({x} IS NOT NULL)"
        if isinstance(value, bool):
            return f"(aql_ordered({x}) {op} {self.binds.json(value)})"
        if isinstance(value, int | float):
            return f"(aql_num({x}) {op} {self.binds.add(str(value), 'numeric')})"
        text = str(value)
        as_text = f"(aql_text({x}) {op} {self.binds.text(text)})"
        if _DATE_LIKE.match(text):
            instant = f"(aql_ts(aql_text({x})) {op} aql_ts({self.binds.text(text)}))"
            return f"coalesce({instant}, {as_text})"
        if _DURATION_LIKE.match(text):  # DV_DURATION: by length, not as text
            duration = f"({interval(x)} {op} CAST({self.binds.text(text)} AS interval))"
            return f"coalesce({duration}, {as_text})"
        if _NUMBER_LIKE.match(text):  # parameters given as text (GET query parameters)
            number = f"(aql_num({x}) {op} {self.binds.add(text, 'numeric')})"
            return f"coalesce({number}, {as_text})"
        return as_text

    def like(self, cond: Like) -> str:
        pattern = self.value(cond.pattern)
        if not isinstance(pattern, str):
            raise AqlError("LIKE takes a string pattern")
        sql_pattern = like_pattern(pattern)
        x = self.operand(cond.operand)
        return f"(aql_text({x}) LIKE {self.binds.text(sql_pattern)})"

    def matches(self, cond: Matches) -> str:
        x = self.operand(cond.operand)
        ehr = self.is_ehr_id(cond.operand)
        values: list[Any] = []
        sets: list[str] = []
        for v in cond.values:
            if isinstance(v, TerminologyRef):
                if v.uri not in self.expansions:
                    raise Unsupported(
                        f"MATCHES {{{v.uri}}}: value sets need the terminology service"
                    )
                # a code: CODE_PHRASE, DV_CODED_TEXT or the code_string itself
                code = (
                    f"coalesce({x} ->> 'code_string', {x} #>> '{{defining_code,code_string}}',"
                    f" aql_text({x}))"
                )
                codes = self.binds.json(self.expansions[v.uri])
                sets.append(f"({code} IN (SELECT jsonb_array_elements_text({codes})))")
                continue
            raw = self.value(v)
            values.extend(raw if isinstance(raw, list) else [raw])
        if ehr is not None:
            listed = [Literal(v) for v in values]
            parts = [uuid_condition(self.binds, ehr.ehr, "=", v) for v in listed]
        else:
            parts = [self.against_value(x, "=", v) for v in values]
        return "(" + (" OR ".join(parts + sets) or "false") + ")"
