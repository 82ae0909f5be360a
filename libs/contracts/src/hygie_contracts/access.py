"""Access events: every read or query of patient data, on ``hygie.access.v1`` keyed by
patient (ARCHITECTURE §9), so that the audit log can answer "who looked at my record"."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from .base import Event

__all__ = [
    "ACCESS_TOPIC",
    "QUERY_PATIENTS_LISTED",
    "AccessAction",
    "AccessOutcome",
    "QueryExecuted",
    "RecordAccessed",
]

ACCESS_TOPIC = "hygie.access.v1"

#: FHIR AuditEvent.action: Create, Read, Update, Delete, Execute (a query is Execute).
AccessAction = Literal["C", "R", "U", "D", "E"]
#: FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure.
AccessOutcome = Literal["0", "4", "8", "12"]
#: A ``QueryExecuted`` lists at most this many patients (about 50 bytes each: the event
#: stays well under a broker's 1 MB record); beyond, it carries their count and digest.
QUERY_PATIENTS_LISTED = 10_000


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


class QueryExecuted(Event):
    """Someone ran a query over patient data: **one event per query** (not one per
    patient), naming who, what, and the patients whose data the result holds."""

    event_type: ClassVar[str] = "hygie.access.query.executed.v1"
    topic: ClassVar[str] = ACCESS_TOPIC
    subject_field: ClassVar[str] = "agent"

    agent: str = Field(min_length=1)
    """who: the token's subject"""
    roles: tuple[str, ...] = ()
    organization: str | None = None
    resource: str = Field(min_length=1)
    """what was queried: ``Query/aql``, a stored query ``Query/<name>``, a resource type"""
    query: str = Field(min_length=1)
    """the statement (AQL, or the search's path and parameters)"""
    parameters: dict[str, Any] | None = None
    """the values of the statement's parameters, as given"""
    patients: tuple[str, ...] = ()
    """the patients whose data the result holds, each once, as in ``RecordAccessed``;
    empty when there are more than ``QUERY_PATIENTS_LISTED`` (see the digest) or when the
    result is made of aggregates only"""
    patient_count: int | None = Field(default=None, ge=0)
    """how many patients the result holds data of; None for aggregates (the rows are
    counts, sums... over records: no patient's data is returned row by row)"""
    patients_digest: str | None = None
    """when the patients are not listed: SHA-256 (hex) of their ids sorted and joined by
    newlines, so that an auditor can check a list derived again later"""
    rows: int = Field(default=0, ge=0)
    """rows answered"""
    purpose: str | None = None
    outcome: AccessOutcome = "0"
    request_id: str | None = None
    occurred_at: datetime
