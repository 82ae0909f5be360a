"""The patient index's errors: each names the field and the rule it breaks."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

__all__ = [
    "IdentifierTaken",
    "InvalidIdentity",
    "Issue",
    "MergeRefused",
    "PatientIndexError",
    "PatientNotFound",
    "PreconditionFailed",
    "ReviewItemClosed",
    "ReviewItemNotFound",
    "VersionConflict",
]


@dataclass(frozen=True, slots=True)
class Issue:
    """One broken rule: the trait (domain name), the rule's stable code, a human message."""

    field: str
    rule: str
    message: str


class PatientIndexError(Exception):
    """Base of the patient index's errors."""


class InvalidIdentity(PatientIndexError):
    """The identity breaks one or more rules; nothing is stored."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.field}: {i.message} [{i.rule}]" for i in issues))


class IdentifierTaken(PatientIndexError):
    """A local identifier is already bound to another source record."""

    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        super().__init__(f"identifier {identifier} is already bound to another patient")


class PatientNotFound(PatientIndexError):
    """No patient (golden or source record) with this id or identifier."""


class MergeRefused(PatientIndexError):
    """A merge or unmerge that the rules forbid (inactive target, same patient...)."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


class VersionConflict(PatientIndexError):
    """The record changed since the version the caller read (If-Match)."""


class PreconditionFailed(PatientIndexError):
    """If-Match names another version than the current one (FHIR: 412)."""


class ReviewItemNotFound(PatientIndexError):
    """No review item with this id."""

    def __init__(self, item_id: UUID) -> None:
        super().__init__(f"no review item {item_id}")


class ReviewItemClosed(PatientIndexError):
    """The review item was already resolved."""
