"""The bus benchmark's child processes: the two services and the raw aiokafka baseline."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from hygie_platform import kafka
from hygie_platform.config import load_settings
from hygie_platform.envelope import envelope_for
from hygie_platform.service import ServiceRuntime
from hygie_platform.uow import UnitOfWorkFactory

from .bus_services import CONSUMER_SPEC, PRODUCER, PRODUCER_SPEC, RAW_TOPIC, _event, _value_bytes

# -- child processes -----------------------------------------------------------------
# Every child reports on a multiprocessing queue: ("ready", role, info),
# ("progress", role, counters), ("mark", name, wall-clock time), ("done", role, info),
# ("error", role, traceback). Times are time.time() so that processes agree.


def _child(role: str, target: Callable[..., Any], q: Any, log_dir: str, *args: Any) -> None:
    logging.basicConfig(
        filename=os.path.join(log_dir, f"{role}.log"),
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(target(q, *args))
    except BaseException:
        q.put(("error", role, traceback.format_exc()))
        raise


def _process_info(role: str) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "role": role,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }


async def _until(
    check: Callable[[], bool],
    limit: float = float("inf"),
    what: str = "",
    *,
    interval: float = 0.002,
) -> None:
    """Poll a condition on platform state (no event to wait on there)."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {limit:.0f}s")
        await asyncio.sleep(interval)


async def _wait_go(go: Any, stop: Any) -> bool:
    """Wait for the start signal; False when told to stop first."""
    await _until(lambda: go.is_set() or stop.is_set(), interval=0.01)
    return not stop.is_set()


async def _report(q: Any, role: str, counters: Callable[[], dict[str, int]]) -> None:
    while True:
        q.put(("progress", role, counters()))
        await asyncio.sleep(0.2)


async def _producer_service(
    q: Any, overrides: dict[str, Any], n: int, batch: int, go: Any, stop: Any
) -> None:
    settings = load_settings(**overrides)
    runtime = ServiceRuntime(PRODUCER_SPEC, settings)
    app = await runtime.prepare()
    runtime.start()
    relay = runtime.relay
    await _until(
        lambda: relay.status.leader and relay.status.broker_connected,
        60,
        "outbox relay leader and connected",
    )
    uow: UnitOfWorkFactory = app.state.uow
    q.put(("ready", "producer", {"pid": os.getpid()}))
    if not await _wait_go(go, stop):
        await runtime.stop()
        return

    journaled = 0
    reporter = asyncio.create_task(
        _report(
            q, "producer", lambda: {"journaled": journaled, "published": relay.status.published}
        )
    )

    async def watch_relay() -> None:
        await _until(lambda: relay.status.published > 0 or stop.is_set())
        q.put(("mark", "publish_first", time.time()))
        await _until(lambda: relay.status.published >= n or stop.is_set())
        q.put(("mark", "publish_done", time.time()))

    watcher = asyncio.create_task(watch_relay())
    q.put(("mark", "journal_start", time.time()))
    while journaled < n and not stop.is_set():
        size = min(batch, n - journaled)
        async with uow() as u:
            for i in range(journaled, journaled + size):
                u.record(_event(i))
        journaled += size
    q.put(("mark", "journal_done", time.time()))
    await asyncio.to_thread(stop.wait)
    for task in (reporter, watcher):
        task.cancel()
    q.put(("progress", "producer", {"journaled": journaled, "published": relay.status.published}))
    await runtime.stop()
    q.put(
        (
            "done",
            "producer",
            {
                **_process_info("producer"),
                "relay_published": relay.status.published,
                "relay_last_error": relay.status.last_error,
            },
        )
    )


async def _consumer_service(q: Any, overrides: dict[str, Any], n: int, stop: Any) -> None:
    settings = load_settings(**overrides)
    runtime = ServiceRuntime(CONSUMER_SPEC, settings)
    await runtime.prepare()
    runtime.start()
    runner = runtime.runners[0]

    def assigned() -> int:  # the runner's live consumer (read only)
        consumer = getattr(runner, "_consumer", None)
        return len(consumer.assignment()) if consumer is not None else 0

    await _until(
        lambda: assigned() >= settings.topic_partitions,
        120,
        "consumer group joined with every partition assigned",
    )
    q.put(("ready", "consumer", {"pid": os.getpid(), "partitions": assigned()}))
    status = runner.status
    reporter = asyncio.create_task(
        _report(
            q,
            "consumer",
            lambda: {
                "applied": status.processed,
                "duplicates": status.skipped_duplicates,
                "dead_lettered": status.dead_lettered,
            },
        )
    )
    await _until(lambda: status.processed > 0 or stop.is_set())
    q.put(("mark", "consume_first", time.time()))
    await _until(lambda: status.processed >= n or stop.is_set())
    # processed is counted after the transaction committed: the table holds the rows now.
    done_at = time.time()
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT count(*) FROM bench_items"))).scalar_one()
    q.put(("mark", "consume_done", done_at))
    await asyncio.to_thread(stop.wait)
    reporter.cancel()
    await runtime.stop()
    q.put(
        (
            "done",
            "consumer",
            {
                **_process_info("consumer"),
                "rows_at_done": rows,
                "applied": status.processed,
                "duplicates_skipped": status.skipped_duplicates,
                "dead_lettered": status.dead_lettered,
                "last_error": status.last_error,
                "value_bytes_avg": round(_value_bytes[1] / max(_value_bytes[0], 1), 1),
            },
        )
    )


def _jsonb_text(value: dict[str, Any]) -> bytes:
    """JSON as PostgreSQL prints a jsonb (what the relay sends): keys by length, then
    bytes; ``", "`` and ``": "`` separators."""
    return json.dumps(dict(sorted(value.items(), key=lambda kv: (len(kv[0]), kv[0])))).encode()


async def _raw_producer(q: Any, overrides: dict[str, Any], n: int, go: Any) -> None:
    settings = load_settings(**overrides)
    topic = settings.topic(RAW_TOPIC)
    # Same headers as the relay sends: a real envelope's, with a fresh ce_id per record.
    template = envelope_for(_event(0), source=f"/hygie/{PRODUCER}")
    headers = [(k, v) for k, v in template.headers()]
    id_at = next(i for i, (k, _) in enumerate(headers) if k == "ce_id")
    producer = kafka.producer(settings)  # the relay's options: acks=all, linger 5 ms
    await producer.start()
    q.put(("ready", "raw_producer", {"pid": os.getpid()}))
    await asyncio.to_thread(go.wait)
    sent, failed = 0, 0

    def count_failure(fut: asyncio.Future[Any]) -> None:
        nonlocal failed
        if fut.cancelled() or fut.exception() is not None:
            failed += 1

    reporter = asyncio.create_task(_report(q, "raw_producer", lambda: {"sent": sent}))
    q.put(("mark", "raw_produce_start", time.time()))
    for i in range(n):
        event = _event(i)
        hdrs = list(headers)
        hdrs[id_at] = ("ce_id", str(uuid.uuid4()).encode())
        fut = await producer.send(
            topic, key=event.item_id.encode(), value=_jsonb_text(event.model_dump()), headers=hdrs
        )
        fut.add_done_callback(count_failure)
        sent += 1
    await producer.flush()
    q.put(("mark", "raw_produce_done", time.time()))
    reporter.cancel()
    await producer.stop()
    q.put(("done", "raw_producer", {**_process_info("raw_producer"), "failed": failed}))


async def _raw_consumer(q: Any, overrides: dict[str, Any], n: int, group: str) -> None:
    settings = load_settings(**overrides)
    consumer = kafka.consumer(
        settings, settings.topic(RAW_TOPIC), group_id=group, enable_auto_commit=True
    )
    await consumer.start()
    received, value_bytes = 0, 0
    deadline = time.monotonic() + 120
    while len(consumer.assignment()) < settings.topic_partitions:
        if time.monotonic() > deadline:
            raise TimeoutError("raw consumer: partitions not assigned within 120s")
        batch = await consumer.getmany(timeout_ms=100)
        received += sum(len(records) for records in batch.values())
    q.put(("ready", "raw_consumer", {"pid": os.getpid()}))
    reporter = asyncio.create_task(_report(q, "raw_consumer", lambda: {"received": received}))
    while received < n:
        batch = await consumer.getmany(timeout_ms=500, max_records=1000)
        for records in batch.values():
            if received == 0 and records:
                q.put(("mark", "raw_consume_first", time.time()))
            received += len(records)
            value_bytes += sum(len(r.value or b"") for r in records)
    q.put(("mark", "raw_consume_done", time.time()))
    reporter.cancel()
    await consumer.stop()
    q.put(
        (
            "done",
            "raw_consumer",
            {
                **_process_info("raw_consumer"),
                "received": received,
                "value_bytes_avg": round(value_bytes / max(received, 1), 1),
            },
        )
    )
