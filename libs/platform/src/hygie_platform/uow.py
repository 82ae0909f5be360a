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
from asyncpg.transaction import TransactionState
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
                await self._commit_with_journal(conn)
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

    async def _commit_with_journal(self, conn: AsyncConnection) -> None:
        """Commit; the journal rows (with their sequence numbers and the relay's NOTIFY)
        and the COMMIT go to PostgreSQL in one message. The counter row lock is held from
        the journal statement to the end of the commit, and every writer of the service
        queues behind it: sent together, no round trip to this process lies in between —
        on a busy machine, waiting for this process's event loop to send the COMMIT held
        the lock for tens of milliseconds (a convoy at a fraction of the commit rate)."""
        if not self._pending:
            await conn.commit()
            return
        pending, self._pending = self._pending, []
        with tracer.start_as_current_span("journal.append", attributes={"events": len(pending)}):
            driver = await driver_of(conn)
            # Without parameters asyncpg sends one simple-protocol query, which may hold
            # several statements; the values are literals (see _literal).
            await driver.execute(_journal_append_sql(pending) + "; COMMIT")
        await _committed(conn)


def _journal_append_sql(pending: list[tuple[str, Envelope]]) -> str:
    """The journal rows of a transaction, their sequence numbers and the relay's wake-up
    in one statement, its values written as SQL literals (the JSON texts go to PostgreSQL
    as they are, never through a dict). The counter row lock it takes serialises writers
    until commit (gap-free, commit-ordered)."""

    def array(values: Iterable[str], sql_type: str) -> str:
        return f"ARRAY[{','.join(_literal(v) for v in values)}]::{sql_type}[]"

    n = len(pending)
    return (
        "WITH c AS (UPDATE journal_counter SET last_seq = last_seq + "
        f"{n} WHERE id = 1 RETURNING last_seq), "
        "ins AS (INSERT INTO journal (seq, event_id, topic, event_key, event_type, "
        f"attributes, data) SELECT c.last_seq - {n} + u.o, i, t, k, ty, a::jsonb, d::jsonb "
        "FROM c, unnest("
        f"{array((str(env.id) for _, env in pending), 'uuid')}, "
        f"{array((topic for topic, _ in pending), 'text')}, "
        f"{array((env.subject for _, env in pending), 'text')}, "
        f"{array((env.type for _, env in pending), 'text')}, "
        f"{array((orjson.dumps(_attributes(env)).decode() for _, env in pending), 'text')}, "
        f"{array((env.data.decode() for _, env in pending), 'text')}"
        ") WITH ORDINALITY AS u(i, t, k, ty, a, d, o)) "
        f"SELECT pg_notify('{JOURNAL_CHANNEL}', '')"
    )


def _literal(value: str) -> str:
    """A PostgreSQL escape-string literal: ``E'...'`` with backslashes and quotes doubled,
    whatever ``standard_conforming_strings`` says. PostgreSQL text holds no NUL."""
    if "\x00" in value:
        raise ValueError("a journal value holds a NUL character")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


async def _committed(conn: AsyncConnection) -> None:
    """Record in asyncpg and in SQLAlchemy that the transaction of ``conn`` was committed
    by a statement of ours, so that neither sends a COMMIT of its own."""
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    transaction = adapted._transaction
    if transaction is not None:
        transaction._state = TransactionState.COMMITTED
        if adapted.driver_connection._top_xact is transaction:
            adapted.driver_connection._top_xact = None
        adapted._transaction = None
    await conn.commit()  # SQLAlchemy's own state; nothing is sent


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
