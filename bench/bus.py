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
import multiprocessing as mp
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hygie_platform.config import load_settings
from hygie_platform.security import ensure_local_key, local_key_path

from .bus_children import _consumer_service, _producer_service, _raw_consumer, _raw_producer
from .bus_measure import (
    _checks,
    _clean_external,
    _cpu_delta,
    _cpu_snapshot,
    _ensure_topics,
    _per_event,
    _progress,
    _py_spy,
    _rate,
    _Run,
    _Stack,
)
from .bus_services import (
    BATCH,
    CONSUMER,
    DEFAULT_EVENTS,
    HANDLER_WRITE,
    KEYS,
    NAME,
    PRODUCER,
    TARGET_EVENTS_PER_S,
    TARGET_RATIO,
    BenchItemRecorded,
)
from .machine import load_average, machine_info

__all__ = ["DEFAULT_EVENTS", "BenchItemRecorded", "run"]


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
