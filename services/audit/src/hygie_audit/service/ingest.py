"""Use cases that receive records: domain and access events from topics, AuditEvents from
the ATX feed. Records wait in ``audit_pending`` until the appender gives them a position."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from hygie_contracts import EHR_TOPIC, Event
from hygie_contracts.access import RecordAccessed
from hygie_contracts.ehr import EhrCreated
from hygie_platform.envelope import Envelope
from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWork

from ..adapters.staging import stage
from ..adapters.tables import audit_pending, ehr_subject
from ..domain.balp import from_access, from_domain_event
from ..domain.records import InvalidAuditEvent, validate

__all__ = ["receive_audit_events", "record_event"]

_PATIENT_DOMAIN = "hygie.patient."


async def record_event(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
    """A topic event → a pending AuditEvent (consumer handler; one per event)."""
    if isinstance(event, RecordAccessed):
        resource = from_access(source=envelope.source, event=event)
    else:
        data = orjson.loads(envelope.data)
        resource = from_domain_event(
            event_id=envelope.id,
            event_type=envelope.type,
            source=envelope.source,
            subject=envelope.subject,
            time=envelope.time,
            data=data if isinstance(data, dict) else {},
            patient=await _patient_of(uow, envelope, event),
        )
    trace_id = envelope.traceparent.split("-")[1] if envelope.traceparent else None
    _pend(uow, envelope.id, resource, envelope.type, envelope.subject, trace_id)


async def _patient_of(uow: UnitOfWork, envelope: Envelope, event: Event) -> str | None:
    if envelope.type.startswith(_PATIENT_DOMAIN):
        return f"Patient/{envelope.subject}"
    if isinstance(event, EhrCreated):
        if event.subject is None:
            return None
        patient = f"{event.subject.namespace}|{event.subject.id}"
        await uow.connection.execute(
            insert(ehr_subject)
            .values(ehr_id=str(event.ehr_id), patient=patient)
            .on_conflict_do_nothing()
        )
        return patient
    if event.topic == EHR_TOPIC:
        found = await uow.connection.execute(
            sa.select(ehr_subject.c.patient).where(ehr_subject.c.ehr_id == envelope.subject)
        )
        return found.scalar_one_or_none()
    return None


def _pend(
    uow: UnitOfWork,
    event_id: UUID,
    resource: dict[str, Any],
    source_event_type: str | None,
    subject: str | None,
    trace_id: str | None,
) -> None:
    stage(
        uow.connection,
        audit_pending,
        {
            "event_id": event_id,
            "resource": orjson.dumps(resource),
            "source_event_type": source_event_type,
            "subject": subject,
            "trace_id": trace_id,
        },
    )


async def receive_audit_events(uow: UnitOfWork, resources: list[Any]) -> list[UUID]:
    """ITI-20 ATX: validated AuditEvents, all or none; returns the ids they are logged under
    (the log assigns its own ``id``; a received id or meta is not kept)."""
    checked = []
    for index, resource in enumerate(resources):
        try:
            checked.append(validate(resource))
        except InvalidAuditEvent as exc:
            raise InvalidAuditEvent(exc.path, exc.message, index=index) from None
    ids = []
    for resource in checked:
        event_id = uuid7()
        resource = {k: v for k, v in resource.items() if k not in ("id", "meta")}
        _pend(uow, event_id, resource, None, None, None)
        ids.append(event_id)
    return ids
