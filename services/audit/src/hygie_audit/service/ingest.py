"""Use cases that receive records: domain and access events from topics (one batch per
fetch), AuditEvents from the ATX feed. Each appends its records to the log in its own
transaction (gap-free positions under the appender lock)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from hygie_contracts import EHR_TOPIC, Event
from hygie_contracts.access import QueryExecuted, RecordAccessed
from hygie_contracts.ehr import EhrCreated
from hygie_platform.envelope import Envelope
from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWork

from ..adapters.log_store import append_records, begin_append, write_entries
from ..adapters.tables import ehr_subject
from ..domain.balp import from_access, from_domain_event, from_query
from ..domain.entries import NewRecord, entry_rows, paused_gc
from ..domain.records import InvalidAuditEvent, validate

__all__ = ["receive_audit_events", "record_events"]

_PATIENT_DOMAIN = "hygie.patient."
_REMEMBER_SUBJECT = insert(ehr_subject).on_conflict_do_nothing()


async def record_events(uow: UnitOfWork, batch: list[tuple[Envelope, Event]]) -> None:
    """Topic events → AuditEvents appended to the log (consumer batch handler: one
    transaction, one append per fetched batch)."""
    patients = await _ehr_patients(uow, batch)
    size, frontier = await begin_append(uow.connection)
    with paused_gc():  # the AuditEvent dicts are gone before the collector runs again
        records = [r for env, event in batch for r in _records(uow, env, event, patients)]
        rows, leaves = entry_rows(size, records)
    await write_entries(uow.connection, size, frontier, rows, leaves)


def _records(
    uow: UnitOfWork, envelope: Envelope, event: Event, patients: dict[str, str]
) -> list[NewRecord]:
    if isinstance(event, QueryExecuted):
        return _query_records(envelope, event)
    return [_record(uow, envelope, event, patients)]


def _query_records(envelope: Envelope, event: QueryExecuted) -> list[NewRecord]:
    """One record per patient the query's result held (each under an id derived from the
    event's and the patient's, so a redelivery stays a duplicate), or one for the query
    alone when it lists none (aggregates; more patients than listed: count and digest)."""
    trace_id = envelope.traceparent.split("-")[1] if envelope.traceparent else None
    if not event.patients:
        resource = from_query(source=envelope.source, event=event, patient=None)
        return [NewRecord(envelope.id, resource, envelope.type, envelope.subject, trace_id)]
    return [
        NewRecord(
            uuid5(envelope.id, patient),
            from_query(source=envelope.source, event=event, patient=patient),
            envelope.type,
            envelope.subject,
            trace_id,
        )
        for patient in event.patients
    ]


def _record(
    uow: UnitOfWork, envelope: Envelope, event: Event, patients: dict[str, str]
) -> NewRecord:
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
            patient=_patient_of(uow, envelope, event, patients),
        )
    trace_id = envelope.traceparent.split("-")[1] if envelope.traceparent else None
    return NewRecord(envelope.id, resource, envelope.type, envelope.subject, trace_id)


async def _ehr_patients(uow: UnitOfWork, batch: list[tuple[Envelope, Event]]) -> dict[str, str]:
    """The patients of the batch's EHRs (one query); EHRs created in it are remembered."""
    ehrs = {env.subject for env, event in batch if event.topic == EHR_TOPIC}
    ehrs |= {str(event.ehr_id) for _, event in batch if isinstance(event, EhrCreated)}
    if not ehrs:
        return {}
    found = await uow.connection.execute(
        sa.select(ehr_subject.c.ehr_id, ehr_subject.c.patient).where(ehr_subject.c.ehr_id.in_(ehrs))
    )
    return {row.ehr_id: row.patient for row in found}


def _patient_of(
    uow: UnitOfWork, envelope: Envelope, event: Event, patients: dict[str, str]
) -> str | None:
    if envelope.type.startswith(_PATIENT_DOMAIN):
        return f"Patient/{envelope.subject}"
    if isinstance(event, EhrCreated):
        if event.subject is None:
            return None
        patient = f"{event.subject.namespace}|{event.subject.id}"
        ehr_id = str(event.ehr_id)
        if ehr_id not in patients:  # the first creation wins, as ON CONFLICT DO NOTHING
            patients[ehr_id] = patient
            uow.stage(_REMEMBER_SUBJECT, {"ehr_id": ehr_id, "patient": patient})
        return patient
    if event.topic == EHR_TOPIC:
        return patients.get(envelope.subject)
    return None


async def receive_audit_events(uow: UnitOfWork, resources: list[Any]) -> list[UUID]:
    """ITI-20 ATX: validated AuditEvents, all or none, appended in the caller's unit of
    work; returns the ids they are logged under (the log assigns its own ``id``; a
    received id or meta is not kept)."""
    checked = []
    for index, resource in enumerate(resources):
        try:
            checked.append(validate(resource))
        except InvalidAuditEvent as exc:
            raise InvalidAuditEvent(exc.path, exc.message, index=index) from None
    records = [
        NewRecord(uuid7(), {k: v for k, v in resource.items() if k not in ("id", "meta")})
        for resource in checked
    ]
    await append_records(uow.connection, records)
    return [r.event_id for r in records]
