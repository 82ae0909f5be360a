"""The outbox relay: publishes journal rows in order and marks them (ARCHITECTURE §4.3).

One relay per service database is active at a time (a PostgreSQL advisory lock elects
it), so journal order is publication order. It is woken by LISTEN/NOTIFY and polls as a
fallback. A broker outage keeps the rows and retries; a relay restart resumes from the
first unpublished row (records sent but not marked before a crash are sent again and
deduplicated by consumers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind

from . import kafka
from .config import Settings
from .db import asyncpg_dsn
from .telemetry import context_from_trace_headers, current_trace_headers, instruments, tracer
from .uow import JOURNAL_CHANNEL

__all__ = ["OutboxRelay", "RelayStatus", "refill_lost_topics", "republish_journal"]

log = logging.getLogger(__name__)

_FETCH = """
    SELECT seq, topic, event_key, attributes, data::text AS data
    FROM journal WHERE published_at IS NULL
    ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
"""
SEND_TIMEOUT = 20.0
_MARK = "UPDATE journal SET published_at = now() WHERE seq = ANY($1::bigint[])"


@dataclass
class RelayStatus:
    """What /health and ``hygie status`` show of the relay."""

    leader: bool = False
    broker_connected: bool = False
    published: int = 0
    last_error: str | None = None


class OutboxRelay:
    """Runs until cancelled; see the module docstring."""

    def __init__(self, settings: Settings, *, dsn: str, service: str) -> None:
        self.settings = settings
        self.dsn = asyncpg_dsn(dsn)
        self.service = service
        self.status = RelayStatus()
        self._wake = asyncio.Event()
        self._lock_id = zlib.crc32(f"hygie-relay-{service}".encode())

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            producer: AIOKafkaProducer | None = None
            watch: kafka.ClusterWatch | None = None
            try:
                conn = await asyncpg.connect(self.dsn, timeout=5)
                await conn.add_listener(JOURNAL_CHANNEL, lambda *_: self._wake.set())
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_id):
                    self.status.leader = False
                    await self._sleep(self.settings.relay_poll_seconds * 5)
                self.status.leader = True
                producer = kafka.producer(self.settings)
                await producer.start()
                watch = kafka.ClusterWatch(self.settings)
                await watch.start()
                self.status.broker_connected = True
                self.status.last_error = None
                await refill_lost_topics(self.settings, conn)
                backoff = 0.5
                await self._publish_forever(conn, producer, watch)
            except asyncio.CancelledError:
                raise
            except (
                KafkaError,
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                TimeoutError,
                kafka.BrokerLostData,
            ) as exc:
                self.status.broker_connected = self.status.broker_connected and not isinstance(
                    exc, KafkaError
                )
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay of %s paused: %s", self.service, self.status.last_error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if watch is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(watch.stop(), 5)
                if producer is not None:
                    self.status.broker_connected = False
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(producer.stop(), 5)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
                self.status.leader = False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _publish_forever(
        self, conn: asyncpg.Connection, producer: AIOKafkaProducer, watch: kafka.ClusterWatch
    ) -> None:
        while True:
            await watch.check()
            sent = await self.publish_batch(conn, producer)
            if sent < self.settings.relay_batch_size:
                await self._sleep(self.settings.relay_poll_seconds)

    async def publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        """Publish the next batch of unpublished rows in order; return how many."""
        async with conn.transaction():
            rows = await conn.fetch(_FETCH, self.settings.relay_batch_size)
            if not rows:
                return 0
            # Bounded: a broker that lost the topic or stopped answering makes the send
            # time out; the relay then reconnects, refills lost topics and retries.
            async with asyncio.timeout(SEND_TIMEOUT):
                futures = [await _send(producer, self.settings, row) for row in rows]
                await asyncio.gather(*futures)
            await conn.execute(_MARK, [row["seq"] for row in rows])
        self.status.published += len(rows)
        instruments().published.add(len(rows), {"service": self.service})
        return len(rows)


async def _send(producer: AIOKafkaProducer, settings: Settings, row: asyncpg.Record) -> Any:
    attributes = _json_object(row["attributes"])
    topic = settings.topic(row["topic"])
    if "traceparent" in attributes:
        parent = context_from_trace_headers(attributes["traceparent"], attributes.get("tracestate"))
        with tracer.start_as_current_span(
            f"publish {attributes.get('ce_type')}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={"messaging.destination.name": topic, "messaging.system": "kafka"},
        ):
            attributes.update(current_trace_headers())
            headers = [(k, v.encode()) for k, v in attributes.items()]
            return await producer.send(
                topic, key=row["event_key"].encode(), value=row["data"].encode(), headers=headers
            )
    headers = [(k, v.encode()) for k, v in attributes.items()]
    return await producer.send(
        topic, key=row["event_key"].encode(), value=row["data"].encode(), headers=headers
    )


def _json_object(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        import orjson

        parsed: dict[str, str] = orjson.loads(value)
        return parsed
    return dict(value)


async def refill_lost_topics(settings: Settings, conn: asyncpg.Connection) -> list[str]:
    """When the broker holds fewer records of a topic than the journal published to it
    (a broker that lost its data, like the in-memory embedded one after a restart),
    mark that topic's journal rows unpublished so that the relay publishes them again."""
    counts = await conn.fetch(
        "SELECT topic, count(*) FILTER (WHERE published_at IS NOT NULL) AS published "
        "FROM journal GROUP BY topic"
    )
    counts = [row for row in counts if row["published"] > 0]
    if not counts:
        return []
    await kafka.ensure_topics(settings, [row["topic"] for row in counts])
    probe: AIOKafkaConsumer = kafka.consumer(settings)
    await probe.start()
    refilled = []
    try:
        for row in counts:
            held = await kafka.topic_record_count(probe, settings.topic(row["topic"]))
            if held is None or held < row["published"]:
                await conn.execute(
                    "UPDATE journal SET published_at = NULL WHERE topic = $1", row["topic"]
                )
                refilled.append(row["topic"])
                log.warning(
                    "topic %s holds %s of %s journaled events: republishing its journal",
                    row["topic"],
                    held,
                    row["published"],
                )
    finally:
        await probe.stop()
    return refilled


async def republish_journal(settings: Settings, dsn: str, *, topic: str | None = None) -> int:
    """``hygie replay``: mark the journal (or one topic of it) for publication again."""
    conn = await asyncpg.connect(asyncpg_dsn(dsn), timeout=5)
    try:
        if topic:
            status = await conn.execute(
                "UPDATE journal SET published_at = NULL WHERE topic = $1", topic
            )
        else:
            status = await conn.execute("UPDATE journal SET published_at = NULL")
        await conn.execute(f"NOTIFY {JOURNAL_CHANNEL}")
        return int(status.split()[-1])
    finally:
        await conn.close()
