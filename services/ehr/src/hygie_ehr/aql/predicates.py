"""Token handling and the parts of AQL shared by FROM and paths: node predicates
(``[at0001]``, ``[openEHR-EHR-...v1, 'name']``, ``[at0001 and name/value=$n]``,
``[ehr_id/value='...']``) and path steps."""

from __future__ import annotations

from typing import NoReturn

from .ast import Literal, NodePredicate, Parameter, PathStep, PredicateTest, Value
from .lexer import Token

__all__ = ["PredicateParser"]


class PredicateParser:
    """Mixin of the parser: the token cursor and the predicate grammar."""

    source: str
    tokens: list[Token]
    i: int
    params: set[str]

    def fail(
        self, message: str, *, tok: Token | None = None, expected: str | None = None
    ) -> NoReturn:
        raise NotImplementedError

    def value(self, expected: str) -> Value:
        raise NotImplementedError

    # -- cursor ------------------------------------------------------------------------

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def peek_at(self, ahead: int) -> tuple[str, str]:
        tok = self.tokens[min(self.i + ahead, len(self.tokens) - 1)]
        return tok.kind, tok.value

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def accept_keyword(self, word: str) -> bool:
        if self.peek.kind == "KEYWORD" and self.peek.value == word:
            self.i += 1
            return True
        return False

    def expect_keyword(self, word: str) -> Token:
        if not (self.peek.kind == "KEYWORD" and self.peek.value == word):
            self.fail(f"unexpected {self.peek.describe()}", expected=word)
        return self.advance()

    def accept_op(self, op: str) -> bool:
        if self.peek.kind == "OP" and self.peek.value == op:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> Token:
        if not (self.peek.kind == "OP" and self.peek.value == op):
            self.fail(f"unexpected {self.peek.describe()}", expected=repr(op))
        return self.advance()

    def expect_kind(self, kind: str, expected: str) -> Token:
        if self.peek.kind != kind:
            self.fail(f"unexpected {self.peek.describe()}", expected=expected)
        return self.advance()

    def attribute(self) -> str:
        """An RM attribute name (keywords are allowed: ``/value`` is not special here)."""
        tok = self.peek
        if tok.kind in ("IDENT", "KEYWORD"):
            self.advance()
            return self.source[tok.pos : tok.pos + len(tok.value)]
        self.fail(f"unexpected {tok.describe()}", expected="an attribute name")

    # -- paths -------------------------------------------------------------------------

    def path_steps(self) -> list[PathStep]:
        steps: list[PathStep] = []
        while self.accept_op("/"):
            name = self.attribute()
            predicate = None
            if self.accept_op("["):
                predicate = self.node_predicate()
                self.expect_op("]")
            steps.append(PathStep(name, predicate))
        return steps

    def attribute_path(self) -> tuple[str, ...]:
        names = [self.attribute()]
        while self.accept_op("/"):
            names.append(self.attribute())
        return tuple(names)

    # -- predicates --------------------------------------------------------------------

    def node_predicate(self) -> NodePredicate:
        """The inside of ``[...]`` (the brackets are the caller's)."""
        node_id: Value | None = None
        name: Value | None = None
        tok = self.peek
        if tok.kind in ("ARCHETYPE", "NODE_ID"):
            self.advance()
            node_id = Literal(tok.value)
        elif tok.kind == "PARAM" and self.peek_at(1)[1] in (",", "]", "and", "AND"):
            self.advance()
            self.params.add(tok.value)
            node_id = Parameter(tok.value)
        if node_id is not None and self.accept_op(","):
            if self.peek.kind in ("STRING", "PARAM"):
                name = self.value("a name string")
            elif self.peek.kind in ("ARCHETYPE", "NODE_ID"):
                self.fail("a term code as name is not supported", expected="a name string")
            else:
                self.fail(f"unexpected {self.peek.describe()}", expected="a name string")
        tests: list[PredicateTest] = []
        if node_id is None:
            tests.append(self.predicate_test())
        while self.accept_keyword("AND"):
            tests.append(self.predicate_test())
        if not (self.peek.kind == "KEYWORD" and self.peek.value == "OR"):
            return NodePredicate(node_id, name, tuple(tests))
        groups = [tuple(tests)]
        while self.accept_keyword("OR"):
            group = [self.predicate_test()]
            while self.accept_keyword("AND"):
                group.append(self.predicate_test())
            groups.append(tuple(group))
        if not groups[0]:  # [atNNNN or ...]: the node id is required, OR is among tests
            self.fail("OR must join attribute tests", expected="AND or ']'")
        return NodePredicate(node_id, name, (), tuple(groups))

    def predicate_test(self) -> PredicateTest:
        if self.peek.kind not in ("IDENT", "KEYWORD"):
            self.fail(
                f"unexpected {self.peek.describe()}",
                expected="an archetype id, a node id (atNNNN) or an attribute path",
            )
        attributes = self.attribute_path()
        tok = self.peek
        if tok.kind != "OP" or tok.value not in ("=", "!=", "<>", ">", ">=", "<", "<="):
            self.fail(f"unexpected {tok.describe()}", expected="a comparison operator")
        self.advance()
        op = "!=" if tok.value == "<>" else tok.value
        return PredicateTest(attributes, op, self.value("a value or a parameter"))
