"""Access events: every read or query of patient data, on ``hygie.access.v1`` keyed by
patient (ARCHITECTURE §9), so that the audit log can answer "who looked at my record"."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from .base import Event

__all__ = ["ACCESS_TOPIC", "AccessAction", "AccessOutcome", "RecordAccessed"]

ACCESS_TOPIC = "hygie.access.v1"

#: FHIR AuditEvent.action: Create, Read, Update, Delete, Execute (a query is Execute).
AccessAction = Literal["C", "R", "U", "D", "E"]
#: FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure.
AccessOutcome = Literal["0", "4", "8", "12"]


class RecordAccessed(Event):
    """Someone read or queried a patient's data (one event per patient touched)."""

    event_type: ClassVar[str] = "hygie.access.record.accessed.v1"
    topic: ClassVar[str] = ACCESS_TOPIC
    subject_field: ClassVar[str] = "patient"

    patient: str = Field(min_length=1)
    """the patient, as ``<identifier system>|<value>`` or a FHIR reference ``Patient/<id>``"""
    agent: str = Field(min_length=1)
    """who: the token's subject"""
    roles: tuple[str, ...] = ()
    """the caller's roles when it accessed"""
    organization: str | None = None
    """the accessing organisation (token claim), when known"""
    action: AccessAction = "R"
    interaction: str = "read"
    """FHIR restful-interaction code: read, vread, search-type, history-instance, ..."""
    resource: str = Field(min_length=1)
    """what was accessed: a reference (``Composition/<uid>``, ``EHR/<id>``) or the query's
    resource type"""
    query: str | None = None
    """the query text (path and parameters, AQL) when the access was a query"""
    purpose: str | None = None
    """purpose of use, a v3-ActReason code (TREAT, ETREAT, HPAYMT, ...)"""
    outcome: AccessOutcome = "0"
    request_id: str | None = None
    """the HTTP X-Request-Id of the access"""
    occurred_at: datetime
