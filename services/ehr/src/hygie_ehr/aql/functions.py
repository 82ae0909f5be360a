"""AQL functions (AQL 1.1 "Built-in functions") and aggregates, as jsonb SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ast import FunctionCall
from .binds import AqlError, Unsupported

if TYPE_CHECKING:
    from .expressions import ExpressionCompiler

__all__ = ["AGGREGATES", "aggregate", "call_function", "has_aggregate"]

AGGREGATES = frozenset({"COUNT", "MIN", "MAX", "SUM", "AVG"})

_NOW = "to_char(now(), 'YYYY-MM-DD\"T\"HH24:MI:SS.MSTZH:TZM')"
_NILADIC = {
    "CURRENT_DATE": "to_jsonb(to_char(now(), 'YYYY-MM-DD'))",
    "CURRENT_TIME": "to_jsonb(to_char(now(), 'HH24:MI:SS.MSTZH:TZM'))",
    "CURRENT_DATE_TIME": f"to_jsonb({_NOW})",
    "NOW": f"to_jsonb({_NOW})",
    "CURRENT_TIMEZONE": "to_jsonb(to_char(now(), 'TZH:TZM'))",
}
#: name -> (argument counts allowed, SQL template over aql_text/aql_num of the arguments)
_TEXT = "aql_text({})"
_NUM = "aql_num({})"
_FUNCTIONS: dict[str, tuple[tuple[int, ...], str, tuple[str, ...]]] = {
    "LENGTH": ((1,), "length({0})", (_TEXT,)),
    "CONTAINS": ((2,), "strpos({0}, {1}) > 0", (_TEXT, _TEXT)),
    "POSITION": ((2,), "strpos({1}, {0})", (_TEXT, _TEXT)),
    "SUBSTRING": ((3,), "substr({0}, ({1})::int, greatest(({2})::int, 0))", (_TEXT, _NUM, _NUM)),
    "ABS": ((1,), "abs({0})", (_NUM,)),
    "MOD": ((2,), "mod({0}, nullif({1}, 0))", (_NUM, _NUM)),
    "CEIL": ((1,), "ceil({0})", (_NUM,)),
    "FLOOR": ((1,), "floor({0})", (_NUM,)),
    "ROUND": ((1, 2), "round({0}, coalesce(({1})::int, 0))", (_NUM, _NUM)),
}


def has_aggregate(expr: object) -> bool:
    return isinstance(expr, FunctionCall) and expr.name in AGGREGATES


def call_function(compiler: ExpressionCompiler, call: FunctionCall) -> str:
    """An AQL (non-aggregate) function call."""
    name = call.name
    if name in AGGREGATES:
        raise AqlError(f"the aggregate {name} is only allowed in SELECT or ORDER BY")
    if name in _NILADIC:
        if call.args:
            raise AqlError(f"{name}() takes no argument")
        return _NILADIC[name]
    args = [compiler.operand(a) for a in call.args]
    if name in ("CONCAT", "CONCAT_WS"):
        if len(args) < (2 if name == "CONCAT_WS" else 1):
            raise AqlError(f"{name} needs more arguments")
        texts = ", ".join(f"aql_text({a})" for a in args)
        return f"to_jsonb({name.lower()}({texts}))"
    spec = _FUNCTIONS.get(name)
    if spec is None:
        raise Unsupported(f"the function {name} is not supported")
    counts, template, kinds = spec
    if len(args) not in counts:
        raise AqlError(f"{name} takes {' or '.join(map(str, counts))} argument(s)")
    typed = [kinds[i].format(a) for i, a in enumerate(args)]
    if len(typed) < len(kinds):
        typed += ["NULL"] * (len(kinds) - len(typed))
    return f"to_jsonb({template.format(*typed)})"


def aggregate(compiler: ExpressionCompiler, call: FunctionCall) -> str:
    """An aggregate over the rows of the query (one group, or per non-aggregated column)."""
    if call.star:
        return "to_jsonb(count(*))"
    if len(call.args) != 1:
        raise AqlError(f"{call.name} takes one argument")
    x = compiler.operand(call.args[0])
    distinct = "DISTINCT " if call.distinct else ""
    if call.name == "COUNT":
        return f"to_jsonb(count({distinct}{x}))"
    if call.name in ("MIN", "MAX"):
        direction = "DESC" if call.name == "MAX" else "ASC"
        present = f"{x} IS NOT NULL AND jsonb_typeof({x}) <> 'null'"
        return f"(array_agg({x} ORDER BY aql_ordered({x}) {direction}) FILTER (WHERE {present}))[1]"
    if call.name == "SUM":
        return f"to_jsonb(sum({distinct}aql_num({x})))"
    return f"to_jsonb(avg({distinct}aql_num({x}))::float8)"
