"""Paths and node predicates as SQL/JSON path expressions (``jsonpath``), bound as
parameters with their values in a ``vars`` object.

``o/data[at0001]/events[at0002, 'Any event']/time/value`` becomes
``$."data" ? (@.archetype_node_id == $v0)."events" ? (@.archetype_node_id == $v1 &&
@.name.value == $v2)."time"."value"`` in lax mode, so that a step through a list visits
each element (multiple occurrences are filtered by the predicate, as AQL intends).
"""

from __future__ import annotations

import uuid
from typing import Any

from .ast import NodePredicate, Parameter, PathStep, PredicateTest, Value
from .binds import AqlError, Binds, Unsupported

__all__ = ["MULTIPLE", "ehr_id_condition", "jsonpath", "literal", "node_filter", "uuid_condition"]

_OPS = {"=": "==", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}

#: RM attributes holding lists: a path through one of them visits each element, and a
#: query gives one row per element reached (as EHRbase does)
MULTIPLE = frozenset(
    {
        "content", "items", "events", "activities", "rows", "participations",
        "other_participations", "links", "identifiers", "mappings", "feeder_system_item_ids",
        "originating_system_item_ids", "audits", "other_reference_ranges",
    }
)  # fmt: skip


class _Vars:
    def __init__(self, binds: Binds) -> None:
        self.binds = binds
        self.values: dict[str, Any] = {}

    def add(self, value: Value) -> str:
        raw = self.binds.parameter(value.name) if isinstance(value, Parameter) else value.value
        name = f"v{len(self.values)}"
        self.values[name] = raw
        return f"${name}"


def _member(name: str) -> str:
    return '."' + name + '"'  # names are AQL identifiers: [A-Za-z_][A-Za-z0-9_]*


def _filter(predicate: NodePredicate, variables: _Vars) -> str:
    tests: list[str] = []
    if predicate.node_id is not None:
        tests.append(f"@.archetype_node_id == {variables.add(predicate.node_id)}")
    if predicate.name is not None:
        tests.append(f"@.name.value == {variables.add(predicate.name)}")
    tests += [_test(test, variables) for test in predicate.tests]
    if predicate.any_of:
        groups = [" && ".join(_test(t, variables) for t in group) for group in predicate.any_of]
        tests.append("(" + " || ".join(f"({g})" for g in groups) + ")")
    return " && ".join(tests) or "true"


def _test(test: PredicateTest, variables: _Vars) -> str:
    path = "@" + "".join(_member(a) for a in test.attributes)
    return f"{path} {_OPS[test.op]} {variables.add(test.value)}"


def jsonpath(binds: Binds, steps: tuple[PathStep, ...]) -> tuple[str, str]:
    """SQL of the bound (jsonpath, vars) pair selecting ``steps`` under an object."""
    variables = _Vars(binds)
    text = "$"
    for step in steps:
        text += _member(step.attribute)
        if step.attribute in MULTIPLE:
            text += "[*]"
        if step.predicate is not None:
            text += f" ? ({_filter(step.predicate, variables)})"
    return binds.jsonpath(text), binds.json(variables.values)


def node_filter(binds: Binds, predicate: NodePredicate, value: str) -> str:
    """SQL: the object ``value`` satisfies the node predicate."""
    variables = _Vars(binds)
    text = f"$ ? ({_filter(predicate, variables)})"
    return f"jsonb_path_exists({value}, {binds.jsonpath(text)}, {binds.json(variables.values)})"


def uuid_or_none(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def ehr_id_condition(binds: Binds, predicate: NodePredicate, column: str) -> str:
    """``EHR e[ehr_id/value='...']`` on the indexed column (a malformed id matches none)."""
    if predicate.node_id is not None or predicate.name is not None:
        raise AqlError("an EHR predicate takes ehr_id/value, not an archetype or node id")

    def group(tests: tuple[PredicateTest, ...]) -> str:
        conds: list[str] = []
        for test in tests:
            if test.attributes != ("ehr_id", "value") or test.op not in ("=", "!="):
                raise Unsupported("EHR predicates support only ehr_id/value = or !=")
            conds.append(uuid_condition(binds, column, test.op, test.value))
        return "(" + (" AND ".join(conds) or "true") + ")"

    if predicate.any_of:
        return "(" + " OR ".join(group(g) for g in predicate.any_of) + ")"
    return group(predicate.tests)


def uuid_condition(binds: Binds, column: str, op: str, value: Value) -> str:
    raw = binds.parameter(value.name) if isinstance(value, Parameter) else value.value
    values = raw if isinstance(raw, list) else [raw]
    ids = [u for u in (uuid_or_none(v) for v in values) if u is not None]
    if not ids:
        return "false" if op == "=" else "true"
    if len(ids) == 1:  # "=": the planner carries a constant through the joins on it
        return f"{column} {'=' if op == '=' else '<>'} {binds.add(ids[0], 'uuid')}"
    listed = ", ".join(binds.add(u, "uuid") for u in ids)
    return f"{column} {'IN' if op == '=' else 'NOT IN'} ({listed})"


def literal(value: Value, binds: Binds) -> Any:
    return binds.parameter(value.name) if isinstance(value, Parameter) else value.value
