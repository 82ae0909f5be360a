"""A generation built by several writer processes (a rebuild on several cores).

One Python process writes a generation at ~3,000 compositions/s whatever the cores: its
CPU and its round trips to PostgreSQL alternate. A rebuild is therefore split by the
clinical topic's partitions (``Share``): this process takes share 0 (with the patient and
terminology topics), ``writers - 1`` child processes (``spawn``) take the others, each
with its own connections, checkpoints (per partition, in the generation's schema) and
resumption. Before the shares start, the patient and terminology topics are read alone up
to their ends: clinical data then finds its patients (none held, then released).

Writers never wait for each other except where their data meets (``Projector.shared``):
batches of clinical events share the generation's writer lock, a batch reaching across
EHRs (patients, merges, terminology, erasures) holds it alone; persons are locked before
their rows and observation periods change; dropped translations are announced through a
sequence. When every share has caught up the children stop, then ``on_caught_up`` (the
swap) runs; the serving generation is fed by a single writer again.

Children report their progress every quarter of a second through a pipe and exit when
the parent's end closes (the parent died); a child that dies is started again (it resumes
from its checkpoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import text

from hygie_platform.config import Settings
from hygie_platform.db import create_engine
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters import generations as gens
from ..service.phases import Phases
from ..service.project import Projector
from .runner import GenerationRunner, Progress, Share

__all__ = ["ParallelBuild", "cores", "rebuild_writers"]

log = logging.getLogger(__name__)
_REPORT_SECONDS = 0.25


def rebuild_writers() -> int:
    """``HYGIE_OMOP_REBUILD_WRITERS``: writer processes of a rebuild (default: one per core,
    at most the topics' partitions, ``HYGIE_TOPIC_PARTITIONS``; 1: the serving process
    alone)."""
    raw = os.environ.get("HYGIE_OMOP_REBUILD_WRITERS", "").strip()
    return max(1, int(raw)) if raw else cores()


def cores() -> int:
    """The cores this process may run on (a container's cpuset, else the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _threaded() -> bool:
    return os.environ.get("HYGIE_OMOP_WRITER_THREAD", "0") == "1"


def _sibling(template: Projector) -> Projector:
    """A writer's own projector of the template's generation (its own caches and state)."""
    return Projector(
        schema=template.schema, generation=template.generation, mappings=template.mappings,
        translator=template.translator, key=template.key, publish=False, shared=True,
    )  # fmt: skip


def _report(runner: GenerationRunner) -> dict[str, Any]:
    p = runner.progress
    return {
        "applied": p.applied, "dead_lettered": p.dead_lettered, "lag": p.lag,
        "caught_up": p.caught_up, "last_error": p.last_error,
        "seconds": dict(p.phases.seconds), "counts": dict(p.phases.counts),
        "cpu": time.process_time(),
        "translate_calls": getattr(runner.projector.translator, "calls", 0),
    }  # fmt: skip


class _Child:
    """A writer process of shares 1..n and what it last reported."""

    def __init__(self, build: ParallelBuild, share: Share) -> None:
        self.share = share
        context = multiprocessing.get_context("spawn")
        self.conn, theirs = context.Pipe()
        t = build.template
        fields = {"schema": t.schema, "generation": t.generation, "mappings": t.mappings,
                  "translator": t.translator, "key": t.key}  # fmt: skip
        self.process = context.Process(
            target=_child_main,
            args=(build.settings, build.database, fields, build.topics, share, theirs),
            name=f"omop-g{t.generation}-writer{share.index}", daemon=True,
        )  # fmt: skip
        self.process.start()
        theirs.close()
        self.last: dict[str, Any] = {}

    def poll(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            while self.conn.poll():
                self.last = self.conn.recv()

    def stop(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.poll()
        self.conn.close()


class ParallelBuild:
    """Builds one generation with ``writers`` processes; ``progress`` sums theirs."""

    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWorkFactory,
        template: Projector,
        topics: tuple[str, ...],
        *,
        writers: int,
        on_caught_up: Callable[[ParallelBuild], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.uow = uow
        self.template = template
        self.projector = template  # what the swap reads (the generation)
        self.topics = topics
        self.writers = max(1, min(writers, settings.topic_partitions))
        self.on_caught_up = on_caught_up
        self.database = uow.engine.url.database or ""
        self.progress = Progress(template.generation)
        self._done: dict[str, Any] = {"applied": 0, "dead_lettered": 0, "cpu": 0.0}
        self._own: GenerationRunner | None = None
        self._children: list[_Child] = []
        self.children_cpu = 0.0
        """CPU seconds of the writer processes that ended (those alive report theirs)"""

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._build()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a failed swap: the writers resume
                self.progress.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("omop generation %s build failed; resuming", self.template.generation)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await self._stop_writers()

    async def _build(self) -> None:
        async with self.uow() as uow:
            await gens.reset_if_torn(uow.connection, self.template.schema)
            await uow.connection.execute(
                text(f"CREATE SEQUENCE IF NOT EXISTS {self.template.schema}.concept_epoch")
            )
        # the patient and terminology topics first, alone, up to their ends
        first = GenerationRunner(
            self.settings, self.uow, _sibling(self.template), self.topics,
            share=Share(0, self.writers, clinical=False),
        )  # fmt: skip
        self._own = first
        task = asyncio.create_task(first.run())
        try:
            while not first.progress.caught_up:
                await asyncio.sleep(0.05)
                self._aggregate()
                if task.done():
                    task.result()
        finally:
            await self._stop_own(task)
        self._done["applied"] += first.progress.applied
        self._done["dead_lettered"] += first.progress.dead_lettered
        # then every share at once
        own = GenerationRunner(
            self.settings, self.uow, _sibling(self.template), self.topics,
            share=Share(0, self.writers), threaded=_threaded(),
        )  # fmt: skip
        self._own = own
        self._children = [_Child(self, Share(i, self.writers)) for i in range(1, self.writers)]
        task = asyncio.create_task(own.run())
        try:
            while True:
                await asyncio.sleep(_REPORT_SECONDS)
                if task.done():
                    task.result()
                for n, child in enumerate(self._children):
                    child.poll()
                    if not child.process.is_alive():  # resumes from its checkpoints
                        log.warning("omop: writer %s exited (%s); starting it again",
                                    child.share.index, child.process.exitcode)  # fmt: skip
                        self._retire(child)
                        self._children[n] = _Child(self, child.share)
                self._aggregate()
                if self.progress.caught_up:
                    break
        finally:
            await self._stop_own(task)
        self._done["applied"] += own.progress.applied
        self._done["dead_lettered"] += own.progress.dead_lettered
        self._own = None
        await self._stop_writers()
        self._aggregate()
        self.progress.caught_up = True  # every writer stopped after catching up
        if self.on_caught_up is not None:
            await self.on_caught_up(self)

    def _retire(self, child: _Child) -> None:
        """Keep what an ended child reported (its counts are in the totals)."""
        self._done["applied"] += child.last.get("applied", 0)
        self._done["dead_lettered"] += child.last.get("dead_lettered", 0)
        self.children_cpu += child.last.get("cpu", 0.0)
        child.last = {}

    async def _stop_own(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def _stop_writers(self) -> None:
        """Stop the child writers and keep their last reports — to the end even when the
        build is cancelled meanwhile (no child left running, no count lost)."""
        children, self._children = self._children, []
        if not children:
            return

        def stop_all() -> None:
            for child in children:
                child.stop()
                self._retire(child)

        stopping = asyncio.ensure_future(asyncio.to_thread(stop_all))
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            await stopping
            raise

    def _aggregate(self) -> None:
        """The totals of the writers (``progress``, as ``/omop/status`` shows them)."""
        reports = [c.last for c in self._children]
        own = self._own
        if own is not None:
            reports.append(_report(own) | {"cpu": 0.0})
        p = self.progress
        p.applied = self._done["applied"] + sum(r.get("applied", 0) for r in reports)
        p.dead_lettered = self._done["dead_lettered"] + sum(
            r.get("dead_lettered", 0) for r in reports
        )
        lags = [r.get("lag") for r in reports]
        known = [lag for lag in lags if lag is not None]
        p.lag = sum(known) if len(known) == len(lags) else None
        alive = own is not None and own.share.clinical
        p.caught_up = (
            alive and len(reports) == self.writers and all(r.get("caught_up") for r in reports)
        )
        p.last_error = next((r["last_error"] for r in reports if r.get("last_error")), None)
        phases = Phases()
        for r in reports:
            for name, seconds in r.get("seconds", {}).items():
                phases.add(name, seconds, r["counts"][name])
        p.phases = phases

    def workers_cpu(self) -> float:
        """CPU seconds used by the child writers so far (the benchmark's accounting)."""
        return self.children_cpu + sum(float(c.last.get("cpu", 0.0)) for c in self._children)

    def translate_calls(self) -> int:
        own = getattr(self.template.translator, "calls", 0)
        return int(own) + sum(int(c.last.get("translate_calls", 0)) for c in self._children)


def _child_main(
    settings: Settings, database: str, fields: dict[str, Any], topics: tuple[str, ...],
    share: Share, conn: Connection,
) -> None:  # fmt: skip
    """A child writer: its share until told to stop or its parent is gone."""
    from hygie_platform.telemetry import setup_logging

    setup_logging("omop_projection", settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_child(settings, database, fields, topics, share, conn))


async def _child(
    settings: Settings, database: str, fields: dict[str, Any], topics: tuple[str, ...],
    share: Share, conn: Connection,
) -> None:  # fmt: skip
    engine = create_engine(settings, database)
    uow = UnitOfWorkFactory(engine, source="/hygie/omop_projection")
    runner = GenerationRunner(
        settings,
        uow,
        Projector(**fields, publish=False, shared=True),
        topics,
        share=share,
        threaded=_threaded(),
    )
    task = asyncio.create_task(runner.run())
    try:
        while not task.done():
            await asyncio.sleep(_REPORT_SECONDS)
            try:
                if conn.poll() and conn.recv() == "stop":
                    break
                conn.send(_report(runner))
            except (EOFError, OSError):  # the parent is gone
                break
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(EOFError, OSError):
            conn.send(_report(runner))
        await engine.dispose()
