"""The unit of work: one transaction owning state rows, journal rows and inbox rows
(CONVENTIONS §6). Repositories and use cases never commit; leaving the block does."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable

from hygie_contracts import Event

from .envelope import Envelope, envelope_for
from .telemetry import current_trace_headers, tracer

__all__ = ["JOURNAL_CHANNEL", "UnitOfWork", "UnitOfWorkFactory", "driver_of"]

_FIRST_TIMES = sa.text(
    "INSERT INTO processed_events (consumer, event_id) "
    "SELECT :consumer, unnest(CAST(:ids AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)

#: NOTIFY channel that wakes the relay when a transaction journaled events.
JOURNAL_CHANNEL = "hygie_journal"

#: The journal rows of a transaction, their sequence numbers and the relay's wake-up in
#: one statement (one round trip; the JSON texts go to PostgreSQL as they are, never
#: through a dict). The counter row lock it takes serialises writers until commit
#: (gap-free, commit-ordered), so the fewer round trips between it and the commit, the
#: more writers commit per second.
_JOURNAL_APPEND = (
    "WITH c AS (UPDATE journal_counter SET last_seq = last_seq + $1 WHERE id = 1 "
    "RETURNING last_seq), "
    "ins AS (INSERT INTO journal (seq, event_id, topic, event_key, event_type, attributes, "
    "data) SELECT c.last_seq - $1 + u.o, i, t, k, ty, a::jsonb, d::jsonb FROM c, "
    "unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) "
    "WITH ORDINALITY AS u(i, t, k, ty, a, d, o)) "
    f"SELECT pg_notify('{JOURNAL_CHANNEL}', '')"
)


class UnitOfWork:
    """``async with uow:`` — commits on a clean exit, rolls back on an exception."""

    def __init__(self, engine: AsyncEngine, *, source: str) -> None:
        self._engine = engine
        self.source = source
        self._conn: AsyncConnection | None = None
        self._pending: list[tuple[str, Envelope]] = []
        self._staged: list[tuple[Executable, list[dict[str, Any]]]] = []

    @property
    def connection(self) -> AsyncConnection:
        """The connection of the open transaction (for repositories)."""
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        return self._conn

    async def driver(self) -> asyncpg.Connection:
        """The asyncpg connection under :attr:`connection`, its transaction begun: hot
        statements run on it as asyncpg prepared statements (cached per connection),
        without SQLAlchemy's per-statement work, in the same transaction as the rest."""
        return await driver_of(self.connection)

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self._pending = []
        self._staged = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if exc_type is None:
                await self._flush_staged(conn)
                await self._flush_journal(conn)
                await conn.commit()
            else:
                await conn.rollback()
        finally:
            await conn.close()

    def stage(self, statement: Executable, params: dict[str, Any]) -> None:
        """A write to run at commit, batched with the other writes of the same statement
        (one executemany per run of identical statements, in the order staged): a
        handler writing one row per event costs one round trip per batch, not per event.
        Its errors surface when the unit of work commits."""
        if self._staged and self._staged[-1][0] is statement:
            self._staged[-1][1].append(params)
        else:
            self._staged.append((statement, [params]))

    async def flush(self) -> None:
        """Run the staged writes now (before reading what they wrote)."""
        await self._flush_staged(self.connection)

    async def _flush_staged(self, conn: AsyncConnection) -> None:
        staged, self._staged = self._staged, []
        for statement, params in staged:
            await conn.execute(statement, params)

    def record(self, event: Event, *, correlation_id: str | None = None) -> Envelope:
        """Journal an event: it is written with this transaction and published by the relay."""
        trace_headers = current_trace_headers()
        envelope = envelope_for(
            event,
            source=self.source,
            correlation_id=correlation_id,
            traceparent=trace_headers.get("traceparent"),
            tracestate=trace_headers.get("tracestate"),
        )
        self._pending.append((event.topic, envelope))
        return envelope

    async def first_time(self, consumer: str, event_id: UUID) -> bool:
        """Mark an event processed by a consumer; False when it already was (a duplicate)."""
        return event_id in await self.first_times(consumer, [event_id])

    async def first_times(self, consumer: str, event_ids: Iterable[UUID]) -> set[UUID]:
        """Mark events processed; return those that were not processed before."""
        ids = list(event_ids)
        if not ids:
            return set()
        # One statement whatever the batch size (an array parameter): prepared once, cached.
        result = await self.connection.execute(_FIRST_TIMES, {"consumer": consumer, "ids": ids})
        return {row[0] for row in result}

    async def _flush_journal(self, conn: AsyncConnection) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with tracer.start_as_current_span("journal.append", attributes={"events": len(pending)}):
            driver = await driver_of(conn)
            await driver.execute(
                _JOURNAL_APPEND,
                len(pending),
                [env.id for _, env in pending],
                [topic for topic, _ in pending],
                [env.subject for _, env in pending],
                [env.type for _, env in pending],
                [orjson.dumps(_attributes(env)).decode() for _, env in pending],
                [env.data.decode() for _, env in pending],
            )


async def driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy one, its transaction begun (see
    :meth:`UnitOfWork.driver`)."""
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    driver: asyncpg.Connection = adapted.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its first statement;
        # begin it the adapter's way so that its commit and rollback apply to it.
        await adapted._start_transaction()
    return driver


def _attributes(env: Envelope) -> dict[str, str]:
    return {name: value.decode() for name, value in env.headers()}


class UnitOfWorkFactory:
    """Makes units of work on a service database (injected into use cases)."""

    def __init__(self, engine: AsyncEngine, *, source: str) -> None:
        self.engine = engine
        self.source = source

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.engine, source=self.source)
