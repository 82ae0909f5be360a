"""A tiny producer/consumer service pair used by the platform's own tests."""

from __future__ import annotations

from typing import ClassVar

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text

from hygie_contracts import Event
from hygie_platform.consumer import Subscription
from hygie_platform.envelope import Envelope
from hygie_platform.security import Role, require_roles
from hygie_platform.service import Platform, ServiceParts, ServiceSpec
from hygie_platform.uow import UnitOfWork, UnitOfWorkFactory

PROBE_TOPIC = "hygie.probe.v1"


class ItemRecorded(Event):
    """Test-only event: an item with a value, keyed by item id."""

    event_type: ClassVar[str] = "hygie.probe.item.recorded.v1"
    topic: ClassVar[str] = PROBE_TOPIC
    subject_field: ClassVar[str] = "item"

    item: str
    value: int


async def apply_item(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
    assert isinstance(event, ItemRecorded)
    if event.value < 0:
        raise ValueError(f"negative value {event.value} refused")
    await uow.connection.execute(
        text("INSERT INTO item (event_id, item, value, trace) VALUES (:e, :i, :v, :t)"),
        {"e": envelope.id, "i": event.item, "v": event.value, "t": envelope.traceparent},
    )


def _consumer(platform: Platform) -> ServiceParts:
    async def create_table() -> None:
        async with platform.engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS item (n bigserial PRIMARY KEY,"
                    " event_id uuid NOT NULL, item text NOT NULL, value int NOT NULL, trace text)"
                )
            )

    return ServiceParts(
        subscriptions=[Subscription(name="items", topics=(PROBE_TOPIC,), handler=apply_item)],
        on_start=[create_table],
    )


CONSUMER = ServiceSpec(name="probe_consumer", bootstrap=_consumer)


async def journal_items(producer_uow: UnitOfWorkFactory, items: list[tuple[str, int]]) -> None:
    """Record items in one transaction of the producer."""
    async with producer_uow() as uow:
        for item, value in items:
            uow.record(ItemRecorded(item=item, value=value))


def _producer(platform: Platform) -> ServiceParts:
    router = APIRouter(prefix="/probe")
    writer = Depends(require_roles(Role.CLINICIAN, Role.INTEGRATION))

    @router.post("/items/{item}", status_code=201, dependencies=[writer])
    async def post_item(item: str, value: int, request: Request) -> dict[str, str]:
        async with request.app.state.uow() as uow:
            envelope = uow.record(ItemRecorded(item=item, value=value))
        return {"event_id": str(envelope.id)}

    return ServiceParts(routers=[router])


PRODUCER = ServiceSpec(name="probe_producer", bootstrap=_producer, publishes=(PROBE_TOPIC,))


async def apply_items(uow: UnitOfWork, todo: list[tuple[Envelope, Event]]) -> None:
    """Batch variant of :func:`apply_item`: one multi-row INSERT for the whole batch."""
    rows = []
    for envelope, event in todo:
        assert isinstance(event, ItemRecorded)
        if event.value < 0:
            raise ValueError(f"negative value {event.value} refused")
        rows.append(
            {"e": envelope.id, "i": event.item, "v": event.value, "t": envelope.traceparent}
        )
    await uow.connection.execute(
        text("INSERT INTO item (event_id, item, value, trace) VALUES (:e, :i, :v, :t)"), rows
    )


def _batch_consumer(platform: Platform) -> ServiceParts:
    parts = _consumer(platform)
    parts.subscriptions = [
        Subscription(name="items", topics=(PROBE_TOPIC,), batch_handler=apply_items)
    ]
    return parts


BATCH_CONSUMER = ServiceSpec(name="probe_batch_consumer", bootstrap=_batch_consumer)
