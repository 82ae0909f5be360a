"""Helpers raising the domain's errors from use cases."""

from __future__ import annotations

from ..domain.errors import PatientNotFound

__all__ = ["not_found"]


def not_found(message: str) -> PatientNotFound:
    return PatientNotFound(message)
