"""Serving and rebuilding generations (blue/green, ARCHITECTURE §5).

At start: a serving generation exists (the first start creates it) and is fed live; a
building generation left by an interrupted rebuild resumes from its own checkpoint.
``rebuild()`` creates a new generation fed from offset 0 while the serving one keeps
serving; when it has caught up, the analysts' views are swapped to it in one transaction,
the change stream moves to it, ``OmopRebuildCompleted`` is journaled and the old schema
is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from hygie_contracts.ehr import EHR_TOPIC
from hygie_contracts.omop import OmopRebuildCompleted
from hygie_contracts.patient import PATIENT_TOPIC
from hygie_contracts.terminology import TERMINOLOGY_TOPIC
from hygie_platform.config import Settings
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters import generations as gens
from ..entrypoints.parallel import ParallelBuild, cores, rebuild_writers
from ..entrypoints.runner import GenerationRunner
from .project import Projector

__all__ = ["SOURCE_TOPICS", "Generations", "RebuildInProgress"]

log = logging.getLogger(__name__)
SOURCE_TOPICS = (PATIENT_TOPIC, EHR_TOPIC, TERMINOLOGY_TOPIC)
_LOCK = zlib.crc32(b"hygie-omop-projection-leader")


def mapping_workers() -> int | None:
    """``HYGIE_OMOP_MAPPING_WORKERS``: processes mapping the large batches of a catch-up or
    rebuild (0, the default: a thread of the runner — unpickling a worker's results cost
    the runner as much CPU as mapping them, see README; "auto": one per spare core)."""
    raw = os.environ.get("HYGIE_OMOP_MAPPING_WORKERS", "0").strip().lower()
    return None if raw == "auto" else int(raw)


class RebuildInProgress(Exception):
    """A rebuild was asked while another one is building."""


class Generations:
    """Runs the serving generation and, during a rebuild, the building one.

    One replica leads (a PostgreSQL advisory lock held on a dedicated connection): only it
    feeds generations. Any replica may ask for a rebuild (a ``building`` row); the leader
    notices it within a second. If the leader dies, its lock goes with its connection and
    a standby takes over from the generations' own checkpoints.
    """

    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWorkFactory,
        make_projector: Callable[[gens.Generation, bool], Projector],
        *,
        etl_label: str,
        poll_seconds: float = 1.0,
    ) -> None:
        self.settings = settings
        self.uow = uow
        self.make_projector = make_projector
        self.etl_label = etl_label
        self.poll_seconds = poll_seconds
        self.runners: dict[
            int, tuple[GenerationRunner | ParallelBuild, asyncio.Task[None] | None]
        ] = {}
        self.serving: gens.Generation | None = None
        self.building: gens.Generation | None = None
        self.leader = False
        self._swap_lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Make sure a serving generation exists (the first start creates it)."""
        async with self.uow() as uow:
            await uow.connection.execute(text("LOCK TABLE omop_generation IN EXCLUSIVE MODE"))
            found = await gens.generations(uow.connection)
            if not any(g.state == "serving" for g in found):
                serving = await gens.create_generation(uow.connection, state="serving")
                await gens.point_views(uow.connection, serving.schema)
                await self._cdm_source(uow.connection, serving)

    def start(self) -> None:
        """Compete for leadership; the leader feeds the generations."""
        self._supervisor = asyncio.create_task(self._lead(), name="omop-leader")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
            self._supervisor = None
        await self._stop_runners()

    async def _stop_runners(self) -> None:
        for _, task in self.runners.values():
            if task is not None:
                task.cancel()
        for _, task in self.runners.values():
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.runners.clear()

    async def _lead(self) -> None:
        while True:
            try:
                async with self.uow.engine.connect() as conn:
                    got = (
                        await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK})
                    ).scalar_one()
                    await conn.commit()
                    if got:
                        self.leader = True
                        log.info("omop: this replica leads the projection")
                        try:
                            while True:
                                await self._sync()
                                await asyncio.sleep(self.poll_seconds)
                                await conn.execute(text("SELECT 1"))  # the lock's session lives
                                await conn.commit()
                        finally:
                            # closing the session releases the lock (never back to the pool)
                            await conn.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("omop: leadership lost or not acquired: %s", exc)
            finally:
                if self.leader:
                    self.leader = False
                    await self._stop_runners()
            await asyncio.sleep(self.poll_seconds * 2)

    async def _sync(self) -> None:
        """Feed what the table says: the serving generation and a building one."""
        async with self._swap_lock:  # never between a swap's commit and its bookkeeping
            await self._sync_unlocked()

    async def _sync_unlocked(self) -> None:
        async with self.uow() as uow:
            found = await gens.generations(uow.connection)
        self.serving = next((g for g in found if g.state == "serving"), None)
        self.building = next((g for g in found if g.state == "building"), None)
        if self.serving is None:
            await self.prepare()
            return
        if self.serving.generation not in self.runners:
            self._spawn(self.serving, publish=True)
        if self.building is not None and self.building.generation not in self.runners:
            self._spawn(self.building, publish=False)

    def _spawn(
        self, generation: gens.Generation, *, publish: bool
    ) -> GenerationRunner | ParallelBuild:
        writers = rebuild_writers()
        if not publish and writers > 1:  # a rebuild on several cores
            build = ParallelBuild(
                self.settings, self.uow, self.make_projector(generation, False), SOURCE_TOPICS,
                writers=writers, on_caught_up=self._swap,
            )  # fmt: skip
            task = asyncio.create_task(build.run(), name=f"omop-g{generation.generation}")
            self.runners[generation.generation] = (build, task)
            return build
        runner = GenerationRunner(
            self.settings,
            self.uow,
            self.make_projector(generation, publish),
            SOURCE_TOPICS,
            on_caught_up=None if publish else self._swap,
            on_release=self._release if publish else None,
            on_topics_reset=self._topics_reset if publish else None,
            mapping_workers=mapping_workers(),
        )
        task = asyncio.create_task(runner.run(), name=f"omop-g{generation.generation}")
        self.runners[generation.generation] = (runner, task)
        return runner

    async def rebuild(self) -> gens.Generation:
        """Ask for a blue/green rebuild into a new generation (any replica may ask)."""
        async with self.uow() as uow:
            await uow.connection.execute(text("LOCK TABLE omop_generation IN EXCLUSIVE MODE"))
            found = await gens.generations(uow.connection)
            building = next((g for g in found if g.state == "building"), None)
            if building is not None:
                raise RebuildInProgress(f"generation {building.generation} is being built")
            generation = await gens.create_generation(uow.connection, state="building")
            await self._cdm_source(uow.connection, generation)
        return generation

    async def current(self) -> tuple[gens.Generation | None, gens.Generation | None]:
        """The serving and building generations, as the database says (any replica)."""
        async with self.uow() as uow:
            found = await gens.generations(uow.connection)
        return (
            next((g for g in found if g.state == "serving"), None),
            next((g for g in found if g.state == "building"), None),
        )

    async def _release(self) -> None:
        """A new vocabulary release may change every mapping: rebuild (once at a time)."""
        with contextlib.suppress(RebuildInProgress):
            generation = await self.rebuild()
            log.info(
                "omop: vocabulary release activated, rebuilding into g%s", generation.generation
            )

    async def _topics_reset(self) -> None:
        """The serving generation's checkpoints are past the ends of the topics (lost and
        refilled from the journals): rebuild from offset 0 while it keeps serving."""
        with contextlib.suppress(RebuildInProgress):
            generation = await self.rebuild()
            log.info("omop: topics reset, rebuilding into g%s", generation.generation)

    async def _swap(self, runner: GenerationRunner | ParallelBuild) -> None:
        """The building generation caught up: serve it, drop the old one."""
        async with self._swap_lock:
            new, old = self.building, self.serving
            if new is None or old is None or runner.projector.generation != new.generation:
                return
            seconds = time.monotonic() - runner.progress.started
            # the large tables made durable on every core first, each in its transaction;
            # the checkpoints with the swap (a crash in between: ``reset_if_torn``)
            await gens.make_durable_concurrently(self.uow.engine, new.schema, connections=cores())
            async with self.uow() as uow:
                conn = uow.connection
                await conn.exec_driver_sql(
                    "UPDATE omop_generation SET state = 'retired' WHERE state = 'serving'"
                )
                await conn.exec_driver_sql(
                    "UPDATE omop_generation SET state = 'serving', swapped_at = now(), "
                    f"events = {int(runner.progress.applied)} WHERE generation = {new.generation}"
                )
                await gens.make_durable(conn, new.schema)
                await gens.point_views(conn, new.schema)
                uow.record(
                    OmopRebuildCompleted(
                        generation=new.generation,
                        previous_generation=old.generation,
                        events_applied=runner.progress.applied,
                        seconds=round(seconds, 3),
                        completed_at=datetime.now(UTC),
                    )
                )
            if isinstance(runner, ParallelBuild):  # its writers stopped: one serves now
                self.runners.pop(new.generation, None)
                serving = self._spawn(new, publish=True)
                serving.progress.applied = runner.progress.applied  # the status continues
                serving.progress.dead_lettered = runner.progress.dead_lettered
                serving.progress.started = runner.progress.started
            else:
                runner.projector.publish = True
                runner.projector.seen = None  # live: previous rows looked up (no set kept)
                runner.on_caught_up = None
                runner.projector.release_activated = False  # the release is in its history
                runner.on_release = self._release
                runner.on_topics_reset = self._topics_reset
            self.serving, self.building = new, None
            _, old_task = self.runners.pop(old.generation, (None, None))
            if old_task is not None:
                old_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await old_task
            async with self.uow() as uow:
                await gens.drop_generation(uow.connection, old)
            log.info("omop: generation %s serves (built in %.1fs)", new.generation, seconds)

    async def _cdm_source(self, conn, generation: gens.Generation) -> None:  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        await gens.write_cdm_source(
            conn, generation.schema, created=generation.started_at.date(), refreshed=now,
            vocabulary="terminology service", etl=self.etl_label,
        )  # fmt: skip

    async def status(self) -> dict[str, object]:
        serving, building = await self.current()
        out: dict[str, object] = {
            "serving": serving.generation if serving else None,
            "building": building.generation if building else None,
            "leader": self.leader,
        }
        for number, (runner, _) in self.runners.items():
            out[f"g{number}"] = runner.progress.as_dict()
        return out
