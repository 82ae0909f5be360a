"""The audit service's background work: sign tree heads on a schedule, purge by retention,
and append records that earlier versions left in ``audit_pending`` (records are appended
by the transactions that receive them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hygie_platform.uow import UnitOfWorkFactory

from ..adapters.log_store import tree_size
from ..config import AuditOptions
from ..domain.tree_head import LogKey
from ..service.log import append_left_over, latest_tree_head, sign_tree_head
from ..service.retention import purge_older_than

__all__ = ["WRITER_ROLE", "AuditWorker"]

log = logging.getLogger(__name__)
WRITER_ROLE = "hygie_audit_writer"


class AuditWorker:
    """Started by the service's on_start hook. The platform has no hook for background
    work yet, so it stops by itself when the runtime disposes the engine (service stop)."""

    def __init__(
        self, engine: AsyncEngine, uow: UnitOfWorkFactory, key: LogKey, options: AuditOptions
    ) -> None:
        self.engine = engine
        self.uow = uow
        self.key = key
        self.options = options
        self.writer_role = False
        self.task: asyncio.Task[None] | None = None
        self._pool: object | None = None

    async def start(self) -> None:
        if self.options.writer_role:
            await self._use_writer_role()
        self._pool = self.engine.pool
        self.task = asyncio.create_task(self.run(), name="audit-worker")

    async def _use_writer_role(self) -> None:
        async with self.engine.connect() as conn:
            allowed = (
                await conn.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)"
                        " AND pg_has_role(current_user, :r, 'MEMBER')"
                    ),
                    {"r": WRITER_ROLE},
                )
            ).scalar()
        if not allowed:
            log.warning(
                "role %s is not available: the audit log is append-only by trigger only",
                WRITER_ROLE,
            )
            return

        @event.listens_for(self.engine.sync_engine, "connect")
        def _set_role(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET ROLE {WRITER_ROLE}")
            cursor.close()

        await self.engine.dispose()  # connections opened by the migrations: not the writer
        self.writer_role = True

    @property
    def stopped(self) -> bool:
        return self.engine.pool is not self._pool

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def run(self) -> None:
        opts = self.options
        last_head = time.monotonic()  # the first scheduled head one interval after start
        last_retention = 0.0
        drained = False
        while not self.stopped:
            try:
                if not drained:
                    drained = await self.append_left_over()
                now = time.monotonic()
                if now - last_head >= opts.tree_head_seconds:
                    last_head = now
                    await self.sign_if_grown()
                if now - last_retention >= opts.retention_check_seconds:
                    last_retention = now
                    result = await purge_older_than(self.uow, days=opts.retention_days)
                    if result:
                        log.info(
                            "retention purge: %s records below %s", result.deleted, result.below_seq
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stopped:
                    return
                log.warning("audit worker: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(opts.poll_seconds)

    async def append_left_over(self) -> bool:
        """Append what earlier versions left in ``audit_pending`` (nothing stored is
        lost); True when done, False while another replica holds the appender lock."""
        return await append_left_over(self.uow, limit=self.options.batch_size)

    async def sign_if_grown(self) -> None:
        async with self.engine.connect() as conn:
            size = await tree_size(conn)
            last = await latest_tree_head(conn, self.key.log_id)
        if size and (last is None or last.tree_size != size):
            await sign_tree_head(self.uow, self.key)
