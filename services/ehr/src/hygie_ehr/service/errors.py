"""Errors of the EHR store's use cases."""

from __future__ import annotations

from uuid import UUID

from hygie_contracts import PartyRef


class EhrError(Exception):
    """Base of the EHR store's errors."""


class SubjectHasEhr(EhrError):
    """The subject (or the requested EHR id) already has an EHR."""

    def __init__(self, subject: PartyRef | None, *, ehr_id: UUID | None = None) -> None:
        self.subject = subject
        self.ehr_id = ehr_id
        what = f"subject {subject.namespace}/{subject.id}" if subject else f"EHR id {ehr_id}"
        super().__init__(f"an EHR already exists for {what}")


class EhrNotFound(EhrError):
    """No EHR with this id."""


class BadRequest(EhrError):
    """The request is malformed (HTTP 400)."""


class NotFound(EhrError):
    """The addressed object does not exist in this EHR (HTTP 404)."""


class Conflict(EhrError):
    """The request conflicts with the stored state (HTTP 409)."""


class PreconditionFailed(EhrError):
    """If-Match names a version that is not the latest (HTTP 412)."""

    def __init__(self, message: str, *, latest_uid: str) -> None:
        super().__init__(message)
        self.latest_uid = latest_uid


class Unprocessable(EhrError):
    """The content is well-formed but invalid (HTTP 422), with every issue and its path."""

    def __init__(self, message: str, issues: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.issues = issues or []


class TemplateInvalid(BadRequest):
    """The uploaded document is not a valid operational template."""


class TemplateConflict(Conflict):
    """A different template with the same id exists."""
