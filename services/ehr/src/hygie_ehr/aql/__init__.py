"""The AQL engine: AQL 1.1 parsed (``parser``) and compiled (``compiler``) to one
parameterised PostgreSQL statement over the versioned store and its ``entry`` index."""

from .binds import AqlError, Unsupported
from .compiler import Compiled, ResultColumn, compile_query
from .lexer import AqlSyntaxError
from .parser import parse

__all__ = [
    "AqlError",
    "AqlSyntaxError",
    "Compiled",
    "ResultColumn",
    "Unsupported",
    "compile_query",
    "parse",
]
