"""Use case: record that an event was seen."""

from __future__ import annotations

from hygie_contracts import Event
from hygie_platform.envelope import Envelope
from hygie_platform.uow import UnitOfWork

from ..adapters.tables import seen_event

__all__ = ["record_seen_event"]


async def record_seen_event(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
    """Store who/what/when of an event, with the trace it belongs to."""
    trace_id = envelope.traceparent.split("-")[1] if envelope.traceparent else None
    await uow.connection.execute(
        seen_event.insert().values(
            event_id=envelope.id,
            event_type=envelope.type,
            source=envelope.source,
            subject=envelope.subject,
            event_time=envelope.time,
            trace_id=trace_id,
        )
    )
