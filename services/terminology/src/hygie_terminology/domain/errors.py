"""Errors of the terminology service (mapped to OperationOutcome by the entrypoints)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LoadProblem",
    "NoActiveRelease",
    "NotFound",
    "ReleaseRejected",
    "ResourcesRejected",
    "TerminologyError",
    "UnknownSystem",
    "UnsupportedRequest",
]


class TerminologyError(Exception):
    """Base of the service's errors."""


class UnknownSystem(TerminologyError):
    """The code system is not known to the server (HTTP 400, naming it)."""

    def __init__(self, system: str) -> None:
        super().__init__(f"unknown code system {system!r}")
        self.system = system


class NotFound(TerminologyError):
    """A code or resource does not exist (HTTP 404)."""


class NoActiveRelease(TerminologyError):
    """No OMOP vocabulary release is active yet."""


class UnsupportedRequest(TerminologyError):
    """A parameter combination the server does not support (HTTP 400)."""


@dataclass(frozen=True)
class LoadProblem:
    """One problem found while loading: where and why."""

    file: str
    line: int | None
    reason: str
    severity: str = "error"  # "error" rejects the release; "warning" is reported only

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.severity}: {where}: {self.reason}"


class ReleaseRejected(TerminologyError):
    """A load failed validation: nothing of it is served; the problems say why."""

    def __init__(self, release_id: int | None, problems: list[LoadProblem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"release rejected: {len(errors)} problem(s); first: {errors[0]}")
        self.release_id = release_id
        self.problems = problems


class ResourcesRejected(TerminologyError):
    """FHIR resources that cannot be loaded; nothing of the batch was stored."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s); first: {problems[0]}")
        self.problems = problems
