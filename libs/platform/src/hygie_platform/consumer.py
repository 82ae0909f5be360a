"""Idempotent consumers: batched, retried, dead-lettered (ARCHITECTURE §4.3, CONVENTIONS §7-8).

Delivery semantics of every subscription:
- group id ``<topic prefix>hygie.<service>.<name>``, offsets committed manually, only after
  the database transaction that applied the records has committed;
- each record's event id is written to ``processed_events`` in that same transaction, so a
  redelivered record is skipped;
- a malformed or unknown-type record goes straight to ``<topic>.dlq``; a handler failure is
  retried with exponential backoff ``consumer_max_attempts`` times, then dead-lettered; the
  partition moves on either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

from hygie_contracts import Event

from . import kafka
from .config import Settings
from .db import DatabaseUnavailable, is_connection_error
from .envelope import Envelope, MalformedEvent, decode_record
from .telemetry import context_from_trace_headers, instruments, tracer
from .uow import UnitOfWork, UnitOfWorkFactory

__all__ = ["BatchHandler", "Handler", "Subscription", "SubscriptionRunner"]

log = logging.getLogger(__name__)

#: ``await handler(uow, envelope, event)``: apply one event inside the open unit of work.
Handler = Callable[[UnitOfWork, Envelope, Event], Awaitable[None]]
#: ``await batch_handler(uow, [(envelope, event), ...])``: apply several events at once.
BatchHandler = Callable[[UnitOfWork, list[tuple[Envelope, Event]]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """A consumer of some topics: its name (consumer group and inbox key) and its handler.

    ``event_types`` limits the types it applies; records of other known types are skipped.
    """

    name: str
    topics: tuple[str, ...]
    handler: Handler | None = None
    event_types: frozenset[str] | None = None
    batch_handler: BatchHandler | None = None
    """Applies every fresh event of a batch at once (multi-row writes); used instead of
    ``handler`` when given. A failure falls back to one event at a time."""

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError(f"subscription {self.name}: give handler or batch_handler")


@dataclass
class _Item:
    record: ConsumerRecord
    envelope: Envelope | None = None
    event: Event | None = None
    error: BaseException | None = None
    attempts: int = 0


@dataclass
class SubscriptionStatus:
    """What /health and ``hygie status`` show of a subscription."""

    group_id: str
    connected: bool = False
    processed: int = 0
    skipped_duplicates: int = 0
    dead_lettered: int = 0
    last_error: str | None = None
    lag: dict[str, int] = field(default_factory=dict)


class SubscriptionRunner:
    """Runs one subscription until cancelled."""

    def __init__(
        self,
        settings: Settings,
        subscription: Subscription,
        *,
        service: str,
        uow: UnitOfWorkFactory,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.sub = subscription
        self.service = service
        self.uow = uow
        self.consumer_key = f"{service}.{subscription.name}"
        self.topics = tuple(settings.topic(t) for t in subscription.topics)
        self.status = SubscriptionStatus(
            group_id=f"{settings.topic_prefix}hygie.{self.consumer_key}"
        )
        self._sleep = sleep
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        backoff = 0.5
        while True:
            consumer = kafka.consumer(self.settings, *self.topics, group_id=self.status.group_id)
            dlq = kafka.producer(self.settings)
            watch = kafka.ClusterWatch(self.settings)
            try:
                await kafka.ensure_topics(
                    self.settings,
                    [*self.sub.topics, *(t + kafka.DLQ_SUFFIX for t in self.sub.topics)],
                )
                await consumer.start()
                await dlq.start()
                await watch.start()
                self._consumer = consumer
                self.status.connected = True
                self.status.last_error = None
                backoff = 0.5
                while True:
                    # A broker that lost its data also lost our offsets: start again from
                    # its beginning; the inbox skips what was already applied.
                    await watch.check()
                    batch = await consumer.getmany(
                        timeout_ms=500, max_records=self.settings.consumer_batch_size
                    )
                    if batch:
                        # The whole fetch in one transaction (order holds per partition),
                        # then every partition's offset in one commit.
                        await self.process([r for rs in batch.values() for r in rs], dlq)
                        offsets = {
                            tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in batch.items()
                        }
                        await consumer.commit(offsets)
            except asyncio.CancelledError:
                raise
            except (
                KafkaError,
                OSError,
                TimeoutError,
                DatabaseUnavailable,
                kafka.BrokerLostData,
            ) as exc:
                # Nothing was committed: the consumer restarts from the committed offsets.
                self.status.connected = False
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("consumer %s paused: %s", self.status.group_id, self.status.last_error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._consumer = None
                self.status.connected = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(watch.stop(), 5)
                for client in (consumer, dlq):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.stop(), 5)

    async def lag(self) -> dict[str, int]:
        """Records not yet processed, per assigned partition (``topic/partition``)."""
        consumer = self._consumer
        if consumer is None:
            return self.status.lag
        assigned = list(consumer.assignment())
        if not assigned:
            return {}
        ends = await consumer.end_offsets(assigned)
        out = {}
        for tp in assigned:
            committed = await consumer.committed(tp) or 0
            out[f"{tp.topic}/{tp.partition}"] = max(ends[tp] - committed, 0)
        self.status.lag = out
        return out

    # -- processing ---------------------------------------------------------------------

    async def process(self, records: list[ConsumerRecord], dlq: AIOKafkaProducer) -> None:
        """Apply records of one partition, in order; dead-letter what cannot be applied."""
        items = [self._decode(r) for r in records]
        good = [i for i in items if i.error is None and i.event is not None]
        try:
            await self._apply(good)
        except Exception as exc:  # one bad record must not fail the others: retry one by one
            if is_connection_error(exc):
                raise DatabaseUnavailable(str(exc)) from exc
            for item in good:
                await self._apply_alone(item)
        for item in items:
            if item.error is not None:
                await self._dead_letter(item, dlq)

    def _decode(self, record: ConsumerRecord) -> _Item:
        item = _Item(record)
        try:
            item.envelope = decode_record(record.headers, record.value)
            wanted = self.sub.event_types
            if wanted is None or item.envelope.type in wanted:
                item.event = item.envelope.model()
        except MalformedEvent as exc:
            item.error = exc
        return item

    async def _apply(self, items: list[_Item]) -> None:
        if not items:
            return
        started = time.perf_counter()
        async with self.uow() as uow:
            fresh = await uow.first_times(self.consumer_key, [i.envelope.id for i in items])  # type: ignore[union-attr]
            applied = len(fresh)
            todo: list[tuple[Envelope, Event]] = []
            for item in items:
                assert item.envelope is not None
                assert item.event is not None
                if item.envelope.id in fresh:
                    fresh.discard(item.envelope.id)  # the same id twice in one batch: once
                    todo.append((item.envelope, item.event))
            if self.sub.batch_handler is not None:
                if todo:
                    await self._handle_batch(uow, todo)
            else:
                for envelope, event in todo:
                    await self._handle(uow, envelope, event)
        instruments().handler_seconds.record(
            time.perf_counter() - started, {"consumer": self.consumer_key}
        )
        instruments().consumed.add(len(items), {"consumer": self.consumer_key})
        self.status.processed += applied
        self.status.skipped_duplicates += len(items) - applied

    async def _handle_batch(self, uow: UnitOfWork, todo: list[tuple[Envelope, Event]]) -> None:
        assert self.sub.batch_handler is not None
        links = [
            Link(
                trace.get_current_span(
                    context_from_trace_headers(e.traceparent, e.tracestate)
                ).get_span_context()
            )
            for e, _ in todo
            if e.traceparent
        ]
        if not links:
            await self.sub.batch_handler(uow, todo)
            return
        # A batch from one trace (typically one request's events) continues that trace, as a
        # single event does; a batch mixing traces starts its own span linked to each of them.
        traces = {link.context.trace_id for link in links}
        parent = (
            context_from_trace_headers(todo[0][0].traceparent, todo[0][0].tracestate)
            if len(traces) == 1 and len(links) == len(todo)
            else None
        )
        types = {e.type for e, _ in todo}
        name = f"process {next(iter(types))}" if len(types) == 1 else f"process batch ({len(todo)})"
        with tracer.start_as_current_span(
            name,
            context=parent,
            kind=SpanKind.CONSUMER,
            links=[] if parent is not None else links,
            attributes={
                "messaging.consumer.group.name": self.status.group_id,
                "messaging.batch.message_count": len(todo),
            },
        ):
            await self.sub.batch_handler(uow, todo)

    async def _handle(self, uow: UnitOfWork, envelope: Envelope, event: Event) -> None:
        assert self.sub.handler is not None
        if envelope.traceparent is None:
            await self.sub.handler(uow, envelope, event)
            return
        parent = context_from_trace_headers(envelope.traceparent, envelope.tracestate)
        with tracer.start_as_current_span(
            f"process {envelope.type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.consumer.group.name": self.status.group_id,
                "messaging.message.id": str(envelope.id),
            },
        ):
            await self.sub.handler(uow, envelope, event)

    async def _apply_alone(self, item: _Item) -> None:
        delay = self.settings.consumer_backoff_seconds
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            item.attempts = attempt
            try:
                await self._apply([item])
                item.error = None
                return
            except Exception as exc:
                if is_connection_error(exc):
                    raise DatabaseUnavailable(str(exc)) from exc
                item.error = exc
                log.warning(
                    "consumer %s: event %s failed (attempt %s/%s): %s",
                    self.consumer_key,
                    item.envelope.id if item.envelope else "?",
                    attempt,
                    self.settings.consumer_max_attempts,
                    exc,
                )
                if attempt < self.settings.consumer_max_attempts:
                    await self._sleep(delay)
                    delay *= 2

    async def _dead_letter(self, item: _Item, dlq: AIOKafkaProducer) -> None:
        record, error = item.record, item.error
        assert error is not None
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-")]
        headers += [
            ("x-error", str(error)[:4000].encode()),
            ("x-error-type", type(error).__name__.encode()),
            ("x-attempts", str(item.attempts).encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer-group", self.status.group_id.encode()),
        ]
        await (
            await dlq.send(
                kafka.dlq_topic(record.topic), key=record.key, value=record.value, headers=headers
            )
        )
        self.status.dead_lettered += 1
        instruments().dead_lettered.add(1, {"consumer": self.consumer_key})
        log.error(
            "consumer %s: dead-lettered %s/%s@%s: %s: %s",
            self.consumer_key,
            record.topic,
            record.partition,
            record.offset,
            type(error).__name__,
            error,
        )
