"""The abstract syntax of AQL 1.1 statements (what the parser produces, the compiler reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AndCondition",
    "AndContains",
    "Column",
    "Comparison",
    "Condition",
    "Containment",
    "ContainsExpr",
    "Exists",
    "FunctionCall",
    "IdentifiedPath",
    "Like",
    "Literal",
    "Matches",
    "NodePredicate",
    "NotCondition",
    "Operand",
    "OrCondition",
    "OrContains",
    "OrderItem",
    "Parameter",
    "PathStep",
    "Query",
    "TerminologyRef",
]


@dataclass(frozen=True, slots=True)
class Literal:
    """A primitive: string, number, boolean, null (dates are strings, as in AQL)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Parameter:
    """``$name``: replaced by a bound value, never by text."""

    name: str


Value = Literal | Parameter


@dataclass(frozen=True, slots=True)
class PredicateTest:
    """``name/value = 'x'`` inside a node predicate."""

    attributes: tuple[str, ...]
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class NodePredicate:
    """``[atNNNN]``, ``[archetype id, 'name']``, ``[... and name/value='x']``."""

    node_id: Value | None = None
    name: Value | None = None
    tests: tuple[PredicateTest, ...] = ()
    #: ``[a=1 and b=2 or c=3]``: the tests above AND one of these groups (AND binds
    #: tighter than OR); empty when the predicate has no OR
    any_of: tuple[tuple[PredicateTest, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class PathStep:
    attribute: str
    predicate: NodePredicate | None = None


@dataclass(frozen=True, slots=True)
class IdentifiedPath:
    """``o/data[at0001]/events[at0002]/.../value/magnitude`` (no steps: the object itself)."""

    variable: str
    steps: tuple[PathStep, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """An aggregate (``COUNT``, ``MIN``...) or an AQL function (``LENGTH``, ``NOW``...)."""

    name: str
    args: tuple[Operand, ...] = ()
    distinct: bool = False
    star: bool = False
    text: str = ""


Operand = IdentifiedPath | Literal | Parameter | FunctionCall


@dataclass(frozen=True, slots=True)
class Column:
    expr: Operand
    alias: str | None = None


# -- FROM ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Containment:
    """``RM_TYPE v[predicate]`` optionally ``[NOT] CONTAINS`` a sub-expression."""

    rm_type: str
    variable: str | None
    predicate: NodePredicate | None = None
    version_scope: str | None = None  # VERSION v[LATEST_VERSION|ALL_VERSIONS]
    contains: ContainsExpr | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AndContains:
    left: ContainsExpr
    right: ContainsExpr


@dataclass(frozen=True, slots=True)
class OrContains:
    left: ContainsExpr
    right: ContainsExpr


ContainsExpr = Containment | AndContains | OrContains

# -- WHERE -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    left: Operand
    op: str
    right: Operand


@dataclass(frozen=True, slots=True)
class Like:
    operand: Operand
    pattern: Value


@dataclass(frozen=True, slots=True)
class TerminologyRef:
    """``terminology://...`` in ``MATCHES {...}``: a value set the terminology service
    expands (``ValueSet/$expand``)."""

    uri: str


@dataclass(frozen=True, slots=True)
class Matches:
    operand: Operand
    values: tuple[Value | TerminologyRef, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    path: IdentifiedPath


@dataclass(frozen=True, slots=True)
class NotCondition:
    condition: Condition


@dataclass(frozen=True, slots=True)
class AndCondition:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class OrCondition:
    left: Condition
    right: Condition


Condition = Comparison | Like | Matches | Exists | NotCondition | AndCondition | OrCondition


@dataclass(frozen=True, slots=True)
class OrderItem:
    expr: Operand
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    columns: tuple[Column, ...]
    from_: ContainsExpr
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    distinct: bool = False
    parameters: frozenset[str] = field(default_factory=frozenset)
