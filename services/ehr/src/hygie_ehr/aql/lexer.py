"""AQL tokens, with their line and column for syntax errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KEYWORDS", "AqlSyntaxError", "Token", "tokenize"]

KEYWORDS = frozenset(
    {
        "SELECT", "DISTINCT", "FROM", "CONTAINS", "AND", "OR", "NOT", "WHERE", "ORDER",
        "BY", "ASC", "ASCENDING", "DESC", "DESCENDING", "LIMIT", "OFFSET", "AS", "EXISTS",
        "LIKE", "MATCHES", "NULL", "TRUE", "FALSE", "LATEST_VERSION", "ALL_VERSIONS", "TOP",
    }
)  # fmt: skip


class AqlSyntaxError(ValueError):
    """The statement is not valid AQL: where, and what was expected there."""

    def __init__(self, message: str, *, line: int, column: int, expected: str | None = None):
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.expected = expected
        self.reason = message


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # KEYWORD IDENT ARCHETYPE NODE_ID STRING NUMBER PARAM TERMINOLOGY OP EOF
    value: str
    pos: int
    line: int
    column: int

    def describe(self) -> str:
        return "end of statement" if self.kind == "EOF" else repr(self.value)


_ARCHETYPE = (
    r"[A-Za-z][A-Za-z0-9_]*-[A-Za-z0-9_]+-[A-Za-z0-9_]+"  # openEHR-EHR-OBSERVATION
    r"\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*?\.v\d+(?:\.\d+)*"  # .concept(.spec)*.v1
)
_SPEC = [
    ("WS", r"\s+|--[^\n]*"),
    ("ARCHETYPE", _ARCHETYPE),
    ("NODE_ID", r"(?:at|id)\d+(?:\.\d+)*\b"),
    ("NUMBER", r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_])"),
    ("TERMINOLOGY", r"terminology:[^\s,{}]+"),  # MATCHES {terminology://...}
    ("IDENT", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("PARAM", r"\$[A-Za-z_][A-Za-z0-9_]*"),
    ("STRING", r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""),
    ("OP", r"!=|<>|>=|<=|[=<>(),\[\]{}/*:]|-"),
]
_RE = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _SPEC))
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def tokenize(source: str) -> list[Token]:
    """Split a statement into tokens (``AqlSyntaxError`` on a character AQL does not know)."""
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(source):
        match = _RE.match(source, pos)
        column = pos - line_start + 1
        if match is None:
            if source[pos] in "'\"":
                raise AqlSyntaxError("unterminated string", line=line, column=column)
            raise AqlSyntaxError(f"unexpected character {source[pos]!r}", line=line, column=column)
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "WS":
            value = text
            if kind == "IDENT" and text.upper() in KEYWORDS:
                kind, value = "KEYWORD", text.upper()
            elif kind == "STRING":
                value = _unquote(text)
            elif kind == "PARAM":
                value = text[1:]
            tokens.append(Token(kind, value, pos, line, column))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = pos + text.rfind("\n") + 1
        pos = match.end()
    tokens.append(Token("EOF", "", pos, line, pos - line_start + 1))
    return tokens
