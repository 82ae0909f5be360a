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
        what = (f"subject {subject.namespace}/{subject.id}" if subject else f"EHR id {ehr_id}")
        super().__init__(f"an EHR already exists for {what}")


class EhrNotFound(EhrError):
    """No EHR with this id."""
