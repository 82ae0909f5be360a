"""Bound values of a compiled statement: every value taken from the AQL text or its
parameters reaches PostgreSQL as a bind parameter, never as SQL text."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["AqlError", "Binds", "Unsupported"]


class AqlError(ValueError):
    """The statement is well-formed but cannot be evaluated (unknown variable, missing
    parameter, impossible path...)."""


class Unsupported(AqlError):
    """The statement uses a feature this engine does not implement (named in the message)."""


class Binds:
    """Named bind parameters; ``add`` answers the SQL placeholder (with its cast)."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.values: dict[str, Any] = {}
        self.parameters = parameters

    def add(self, value: Any, cast: str | None = None) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        if cast is None or cast in ("text", "bigint"):
            return f"CAST(:{name} AS {cast})" if cast else f":{name}"
        # sent as text and cast by PostgreSQL: no driver codec decides how a value travels
        return f"CAST(CAST(:{name} AS text) AS {cast})"

    def text(self, value: str) -> str:
        return self.add(value, "text")

    def json(self, value: Any) -> str:
        return self.add(orjson.dumps(value).decode(), "jsonb")

    def jsonpath(self, path: str) -> str:
        return self.add(path, "jsonpath")

    def parameter(self, name: str) -> Any:
        if name not in self.parameters:
            raise AqlError(f"the query parameter ${name} has no value")
        return self.parameters[name]
