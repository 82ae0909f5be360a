"""Errors of the simplified-format converters."""

from __future__ import annotations

__all__ = ["CodecError"]


class CodecError(ValueError):
    """A value of a FLAT leaf cannot be placed (the message says why; ``suffix`` which)."""

    def __init__(self, message: str, *, suffix: str | None = None) -> None:
        super().__init__(message)
        self.suffix = suffix
