"""A recursive-descent parser of AQL 1.1 (openEHR Query Language, "AQL syntax").

Containment precedence follows the specification's grammar: ``CONTAINS`` binds tighter
than ``AND``, which binds tighter than ``OR`` (``c CONTAINS o AND e`` is ``c`` containing
both), and the right side of ``CONTAINS`` takes a whole expression unless parenthesised.
"""

from __future__ import annotations

from typing import NoReturn

from .ast import (
    AndCondition,
    AndContains,
    Column,
    Comparison,
    Condition,
    Containment,
    ContainsExpr,
    Exists,
    FunctionCall,
    IdentifiedPath,
    Like,
    Literal,
    Matches,
    NotCondition,
    Operand,
    OrCondition,
    OrContains,
    OrderItem,
    Parameter,
    Query,
    TerminologyRef,
    Value,
)
from .lexer import AqlSyntaxError, Token, tokenize
from .predicates import PredicateParser

__all__ = ["AqlSyntaxError", "parse"]

COMPARISON_OPS = frozenset({"=", "!=", "<>", ">", ">=", "<", "<="})
AGGREGATES = frozenset({"COUNT", "MIN", "MAX", "SUM", "AVG"})


def parse(source: str) -> Query:
    """The syntax tree of an AQL statement (``AqlSyntaxError`` with line/column otherwise)."""
    return _Parser(source).query()


class _Parser(PredicateParser):
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[Token] = tokenize(source)
        self.i = 0
        self.params: set[str] = set()

    # -- statement ---------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        distinct = self.accept_keyword("DISTINCT")
        if self.accept_keyword("TOP"):
            self.fail("TOP is deprecated in AQL 1.1: use LIMIT", expected="LIMIT")
        columns = [self.column()]
        while self.accept_op(","):
            columns.append(self.column())
        self.expect_keyword("FROM")
        from_ = self.contains_or()
        where = self.condition() if self.accept_keyword("WHERE") else None
        order: list[OrderItem] = []
        if self.accept_keyword("ORDER"):
            self.expect_keyword("BY")
            order.append(self.order_item())
            while self.accept_op(","):
                order.append(self.order_item())
        limit = offset = None
        if self.accept_keyword("LIMIT"):
            limit = self.integer("LIMIT")
            if self.accept_keyword("OFFSET"):
                offset = self.integer("OFFSET")
        if self.peek.kind != "EOF":
            expected = "WHERE, ORDER BY, LIMIT or the end" if where is None else "end"
            self.fail(f"unexpected {self.peek.describe()}", expected=expected)
        return Query(
            columns=tuple(columns),
            from_=from_,
            where=where,
            order_by=tuple(order),
            limit=limit,
            offset=offset,
            distinct=distinct,
            parameters=frozenset(self.params),
        )

    def column(self) -> Column:
        expr = self.operand(allow_aggregate=True)
        alias = None
        if self.accept_keyword("AS"):
            tok = self.peek
            if tok.kind not in ("IDENT", "KEYWORD") or tok.value == "FROM":
                self.fail(f"unexpected {tok.describe()}", expected="an alias name")
            alias = self.attribute()
        return Column(expr, alias)

    def order_item(self) -> OrderItem:
        expr = self.operand(allow_aggregate=True)
        descending = False
        if self.peek.kind == "KEYWORD" and self.peek.value in (
            "ASC",
            "ASCENDING",
            "DESC",
            "DESCENDING",
        ):
            descending = self.advance().value.startswith("DESC")
        return OrderItem(expr, descending)

    def integer(self, what: str) -> int:
        tok = self.expect_kind("NUMBER", f"a whole number after {what}")
        if not tok.value.isdigit():
            self.fail(f"{what} takes a whole number, got {tok.value}", tok=tok)
        return int(tok.value)

    # -- FROM --------------------------------------------------------------------------

    def contains_or(self) -> ContainsExpr:
        left = self.contains_and()
        while self.accept_keyword("OR"):
            left = OrContains(left, self.contains_and())
        return left

    def contains_and(self) -> ContainsExpr:
        left = self.contains_atom()
        while self.accept_keyword("AND"):
            left = AndContains(left, self.contains_atom())
        return left

    def contains_atom(self) -> ContainsExpr:
        if self.accept_op("("):
            inner = self.contains_or()
            self.expect_op(")")
            return inner
        tok = self.expect_kind("IDENT", "an RM type (EHR, COMPOSITION, OBSERVATION...)")
        rm_type = tok.value.upper()
        variable = None
        if self.peek.kind == "IDENT":
            variable = self.advance().value
        predicate, scope = None, None
        if self.accept_op("["):
            if rm_type == "VERSION":
                scope = self.version_scope()
            else:
                predicate = self.node_predicate()
            self.expect_op("]")
        contains, negated = None, False
        if self.accept_keyword("NOT"):  # in FROM, NOT can only start NOT CONTAINS
            negated = True
            self.expect_keyword("CONTAINS")
            contains = self.contains_or()
        elif self.accept_keyword("CONTAINS"):
            contains = self.contains_or()
        return Containment(rm_type, variable, predicate, scope, contains, negated)

    def version_scope(self) -> str:
        tok = self.advance()
        if tok.kind == "KEYWORD" and tok.value in ("LATEST_VERSION", "ALL_VERSIONS"):
            return tok.value
        self.fail(
            f"unexpected {tok.describe()}", tok=tok, expected="LATEST_VERSION or ALL_VERSIONS"
        )

    # -- WHERE -------------------------------------------------------------------------

    def condition(self) -> Condition:
        left = self.condition_and()
        while self.accept_keyword("OR"):
            left = OrCondition(left, self.condition_and())
        return left

    def condition_and(self) -> Condition:
        left = self.condition_not()
        while self.accept_keyword("AND"):
            left = AndCondition(left, self.condition_not())
        return left

    def condition_not(self) -> Condition:
        if self.accept_keyword("NOT"):
            return NotCondition(self.condition_not())
        if self.accept_keyword("EXISTS"):
            return Exists(self.path(self.expect_kind("IDENT", "a variable").value))
        if self.accept_op("("):
            inner = self.condition()
            self.expect_op(")")
            return inner
        left = self.operand()
        if self.accept_keyword("LIKE"):
            return Like(left, self.value("a pattern string or parameter"))
        if self.accept_keyword("MATCHES"):
            self.expect_op("{")
            values = [self.matched()]
            while self.accept_op(","):
                values.append(self.matched())
            self.expect_op("}")
            return Matches(left, tuple(values))
        tok = self.peek
        if tok.kind != "OP" or tok.value not in COMPARISON_OPS:
            self.fail(
                f"unexpected {tok.describe()}", expected="a comparison operator, LIKE or MATCHES"
            )
        self.advance()
        op = "!=" if tok.value == "<>" else tok.value
        return Comparison(left, op, self.operand())

    def matched(self) -> Value | TerminologyRef:
        if self.peek.kind == "TERMINOLOGY":
            return TerminologyRef(self.advance().value)
        return self.value("a value or a terminology:// value set")

    # -- operands ----------------------------------------------------------------------

    def operand(self, *, allow_aggregate: bool = False) -> Operand:
        tok = self.peek
        callable_word = tok.kind == "IDENT" or (tok.kind == "KEYWORD" and tok.value == "CONTAINS")
        if callable_word and self.peek_at(1) == ("OP", "("):
            return self.function(allow_aggregate=allow_aggregate)
        if tok.kind == "IDENT":
            self.advance()
            return self.path(tok.value)
        return self.value("a path, a value, a parameter or a function")

    def function(self, *, allow_aggregate: bool) -> FunctionCall:
        start = self.advance()
        name = start.value.upper()
        if name in AGGREGATES and not allow_aggregate:
            self.fail(f"the aggregate {name} is only allowed in SELECT or ORDER BY", tok=start)
        self.expect_op("(")
        distinct = star = False
        args: list[Operand] = []
        if name == "COUNT" and self.accept_op("*"):
            star = True
        elif not (self.peek.kind == "OP" and self.peek.value == ")"):
            distinct = name in AGGREGATES and self.accept_keyword("DISTINCT")
            args.append(self.operand())
            while self.accept_op(","):
                args.append(self.operand())
        end = self.expect_op(")")
        text = self.source[start.pos : end.pos + 1]
        return FunctionCall(name, tuple(args), distinct, star, text)

    def value(self, expected: str) -> Value:
        tok = self.advance()
        if tok.kind == "PARAM":
            self.params.add(tok.value)
            return Parameter(tok.value)
        if tok.kind == "STRING":
            return Literal(tok.value)
        if tok.kind == "NUMBER":
            return Literal(_number(tok.value))
        if tok.kind == "OP" and tok.value == "-" and self.peek.kind == "NUMBER":
            return Literal(-_number(self.advance().value))
        if tok.kind == "KEYWORD" and tok.value in ("TRUE", "FALSE", "NULL"):
            return Literal({"TRUE": True, "FALSE": False, "NULL": None}[tok.value])
        self.fail(f"unexpected {tok.describe()}", tok=tok, expected=expected)

    def path(self, variable: str) -> IdentifiedPath:
        start = self.tokens[self.i - 1]
        steps = self.path_steps()
        end = self.tokens[self.i - 1]
        text = self.source[start.pos : end.pos + len_of(self.source, end)]
        return IdentifiedPath(variable, tuple(steps), text)

    # -- tokens ------------------------------------------------------------------------

    def fail(
        self, message: str, *, tok: Token | None = None, expected: str | None = None
    ) -> NoReturn:
        tok = tok or self.peek
        text = f"{message} (expected {expected})" if expected else message
        raise AqlSyntaxError(text, line=tok.line, column=tok.column, expected=expected)


def len_of(source: str, tok: Token) -> int:
    """Length of a token in the source (strings are unquoted in ``value``)."""
    if tok.kind in ("STRING",):
        quote = source[tok.pos]
        j = tok.pos + 1
        while source[j] != quote:
            j += 2 if source[j] == "\\" else 1
        return j - tok.pos + 1
    if tok.kind == "PARAM":
        return len(tok.value) + 1
    return len(tok.value)


def _number(text: str) -> int | float:
    if text.isdigit():
        return int(text)
    return float(text)
