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
import time
from collections.abc import Callable
from datetime import UTC, datetime

from hygie_contracts.ehr import EHR_TOPIC
from hygie_contracts.omop import OmopRebuildCompleted
from hygie_contracts.patient import PATIENT_TOPIC
from hygie_contracts.terminology import TERMINOLOGY_TOPIC
from hygie_platform.config import Settings
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters import generations as gens
from ..entrypoints.runner import GenerationRunner
from .project import Projector

__all__ = ["SOURCE_TOPICS", "Generations", "RebuildInProgress"]

log = logging.getLogger(__name__)
SOURCE_TOPICS = (PATIENT_TOPIC, EHR_TOPIC, TERMINOLOGY_TOPIC)


class RebuildInProgress(Exception):
    """A rebuild was asked while another one is building."""


class Generations:
    """Runs the serving generation and, during a rebuild, the building one."""

    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWorkFactory,
        make_projector: Callable[[gens.Generation, bool], Projector],
        *,
        etl_label: str,
    ) -> None:
        self.settings = settings
        self.uow = uow
        self.make_projector = make_projector
        self.etl_label = etl_label
        self.runners: dict[int, tuple[GenerationRunner, asyncio.Task[None] | None]] = {}
        self.serving: gens.Generation | None = None
        self.building: gens.Generation | None = None
        self._swap_lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Make sure a serving generation exists; find a building one to resume."""
        async with self.uow() as uow:
            found = await gens.generations(uow.connection)
            serving = next((g for g in found if g.state == "serving"), None)
            if serving is None:
                serving = await gens.create_generation(uow.connection, state="serving")
                await gens.point_views(uow.connection, serving.schema)
                await self._cdm_source(uow.connection, serving)
            self.serving = serving
            self.building = next((g for g in found if g.state == "building"), None)

    def start(self) -> None:
        """Start feeding the serving generation (and resume a building one)."""
        assert self.serving is not None
        self._spawn(self.serving, publish=True)
        if self.building is not None:
            self._spawn(self.building, publish=False)

    async def stop(self) -> None:
        for _, task in self.runners.values():
            if task is not None:
                task.cancel()
        for _, task in self.runners.values():
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.runners.clear()

    def _spawn(self, generation: gens.Generation, *, publish: bool) -> GenerationRunner:
        runner = GenerationRunner(
            self.settings,
            self.uow,
            self.make_projector(generation, publish),
            SOURCE_TOPICS,
            on_caught_up=None if publish else self._swap,
            on_release=self._release if publish else None,
        )
        task = asyncio.create_task(runner.run(), name=f"omop-g{generation.generation}")
        self.runners[generation.generation] = (runner, task)
        return runner

    async def rebuild(self) -> gens.Generation:
        """Start a blue/green rebuild into a new generation."""
        if self.building is not None:
            raise RebuildInProgress(f"generation {self.building.generation} is being built")
        async with self.uow() as uow:
            self.building = await gens.create_generation(uow.connection, state="building")
            await self._cdm_source(uow.connection, self.building)
        self._spawn(self.building, publish=False)
        return self.building

    async def _release(self) -> None:
        """A new vocabulary release may change every mapping: rebuild (once at a time)."""
        with contextlib.suppress(RebuildInProgress):
            generation = await self.rebuild()
            log.info(
                "omop: vocabulary release activated, rebuilding into g%s", generation.generation
            )

    async def _swap(self, runner: GenerationRunner) -> None:
        """The building generation caught up: serve it, drop the old one."""
        async with self._swap_lock:
            new, old = self.building, self.serving
            if new is None or old is None or runner.projector.generation != new.generation:
                return
            seconds = time.monotonic() - runner.progress.started
            async with self.uow() as uow:
                conn = uow.connection
                await conn.exec_driver_sql(
                    "UPDATE omop_generation SET state = 'retired' WHERE state = 'serving'"
                )
                await conn.exec_driver_sql(
                    "UPDATE omop_generation SET state = 'serving', swapped_at = now(), "
                    f"events = {int(runner.progress.applied)} WHERE generation = {new.generation}"
                )
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
            runner.projector.publish = True
            runner.on_caught_up = None
            runner.projector.release_activated = False  # the release is in its history
            runner.on_release = self._release
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

    def status(self) -> dict[str, object]:
        out: dict[str, object] = {
            "serving": self.serving.generation if self.serving else None,
            "building": self.building.generation if self.building else None,
        }
        for number, (runner, _) in self.runners.items():
            out[f"g{number}"] = runner.progress.as_dict()
        return out
