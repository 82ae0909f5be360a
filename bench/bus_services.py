"""The bus benchmark's two services and its event (see bench.bus)."""

from __future__ import annotations

import logging
from typing import ClassVar

import sqlalchemy as sa

from hygie_contracts import Event
from hygie_platform.consumer import Subscription
from hygie_platform.envelope import Envelope
from hygie_platform.service import Platform, ServiceParts, ServiceSpec
from hygie_platform.uow import UnitOfWork

NAME = "bus"
DEFAULT_EVENTS = 200_000
BATCH = 500
TARGET_EVENTS_PER_S = 5_000
TARGET_RATIO = 0.3
BENCH_TOPIC = "hygie.bench.v1"
RAW_TOPIC = "hygie.benchraw.v1"
PRODUCER = "bench_producer"
CONSUMER = "bench_consumer"
SUBSCRIPTION = "items"
KEYS = 4096  # distinct aggregates (record keys), spread over the partitions
PAYLOAD = "lorem ipsum dolor sit amet, consectetur"  # a small event: ~90 bytes of JSON

log = logging.getLogger(__name__)


class BenchItemRecorded(Event):
    """Bench-only event type (never part of the contracts)."""

    event_type: ClassVar[str] = "hygie.bench.item.recorded.v1"
    topic: ClassVar[str] = BENCH_TOPIC
    subject_field: ClassVar[str] = "item_id"

    item_id: str
    seq: int
    payload: str


# -- the two services ----------------------------------------------------------------

bench_items = sa.Table(
    "bench_items",
    sa.MetaData(),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)
_CREATE_ITEMS = """
    CREATE TABLE IF NOT EXISTS bench_items (
        event_id uuid PRIMARY KEY,
        item_id text NOT NULL,
        seq bigint NOT NULL
    )
"""
_INSERT_ITEM = bench_items.insert()
HANDLER_WRITE = "stage" if hasattr(UnitOfWork, "stage") else "execute"
_value_bytes = [0, 0]  # (records, bytes) seen by the handler of this process


async def apply_item(uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
    """The consumer's effect: one row per event, in the subscription's transaction.

    Written the way a service would: through ``UnitOfWork.stage()`` (writes batched at
    commit) when the platform offers it, else one ``execute`` per event."""
    assert isinstance(event, BenchItemRecorded)
    _value_bytes[0] += 1
    _value_bytes[1] += len(envelope.data)
    params = {"event_id": envelope.id, "item_id": event.item_id, "seq": event.seq}
    if HANDLER_WRITE == "stage":
        uow.stage(_INSERT_ITEM, params)  # type: ignore[attr-defined]
    else:
        await uow.connection.execute(_INSERT_ITEM, params)


def _producer_parts(platform: Platform) -> ServiceParts:
    return ServiceParts()


def _consumer_parts(platform: Platform) -> ServiceParts:
    async def create_table() -> None:
        async with platform.engine.begin() as conn:
            await conn.execute(sa.text(_CREATE_ITEMS))

    subscription = Subscription(
        name=SUBSCRIPTION,
        topics=(BENCH_TOPIC,),
        handler=apply_item,
        event_types=frozenset({BenchItemRecorded.event_type}),
    )
    return ServiceParts(subscriptions=[subscription], on_start=[create_table])


PRODUCER_SPEC = ServiceSpec(name=PRODUCER, bootstrap=_producer_parts, publishes=(BENCH_TOPIC,))
CONSUMER_SPEC = ServiceSpec(name=CONSUMER, bootstrap=_consumer_parts)


def _event(i: int) -> BenchItemRecorded:
    return BenchItemRecorded(item_id=f"item-{i % KEYS:04d}", seq=i, payload=PAYLOAD)
