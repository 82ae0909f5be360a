"""Database plumbing: one database per service, created on demand, migrated at start."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .config import Settings

__all__ = [
    "PLATFORM_MIGRATIONS",
    "DatabaseUnavailable",
    "asyncpg_dsn",
    "create_engine",
    "ensure_database",
    "is_connection_error",
    "migrate",
    "run_alembic_env",
    "service_database_name",
    "with_database",
]

log = logging.getLogger(__name__)
PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT = 5.0
#: Seconds after which a pooled connection is replaced (bounds the life of a half-open one).
POOL_RECYCLE = 1800


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached (HTTP 503 at the edge)."""


def service_database_name(settings: Settings, service: str) -> str:
    """``hygie_<service>`` unless HYGIE_DATABASE_NAME/HYGIE_DATABASE_PREFIX say otherwise."""
    return settings.database_name or f"{settings.database_prefix}{service}"


def with_database(url: str, database: str, *, driver: str | None = None) -> str:
    """The same server URL pointing at another database (and optionally another driver)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "postgres":
        scheme = "postgresql"
    if driver:
        scheme = f"{scheme}+{driver}"
    return urlunsplit((scheme, parts.netloc, "/" + database, parts.query, ""))


def asyncpg_dsn(url: str) -> str:
    """A URL asyncpg accepts (no SQLAlchemy driver suffix)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


async def ensure_database(settings: Settings, database: str) -> None:
    """Create the database if it does not exist (safe when several processes race)."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(settings.database_url), timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(
            f"HYGIE_DATABASE_URL: cannot connect to PostgreSQL: {exc}"
        ) from None
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
                log.info("created database %s", database)
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                pass  # another replica created it at the same moment
    finally:
        await conn.close()


def create_engine(settings: Settings, database: str) -> AsyncEngine:
    """An async engine on a service database (asyncpg, short connect timeout).

    No ``pool_pre_ping``: with asyncpg it costs three round trips (BEGIN, ``;``,
    ROLLBACK) per checkout. A pooled connection the server closed (restart, idle
    kill) is seen closed by asyncpg and replaced at checkout for free
    (:func:`_drop_closed_connections`); one that dies silently fails its first
    statement, which SQLAlchemy reports as a disconnect and answers by invalidating the
    whole pool (the request gets a 503, the next ones fresh connections).
    """
    engine = create_async_engine(
        with_database(settings.database_url, database, driver="asyncpg"),
        # Up to 2 x HYGIE_DATABASE_POOL_SIZE connections, all kept once opened: overflow
        # connections are closed on return, so a load above the pool size opened and
        # closed a connection per request (connect, type introspection, statements
        # prepared again), a third of a busy EHR store's CPU.
        pool_size=2 * settings.database_pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE,
        connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": 60},
    )
    _drop_closed_connections(engine)
    _trace_statements(engine, database)
    return engine


def _drop_closed_connections(engine: AsyncEngine) -> None:
    """At checkout, a connection asyncpg knows closed is discarded and the pool retries
    with a new one (no round trip: the socket's end was already seen by the loop)."""
    from sqlalchemy import event
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        raw = getattr(dbapi_connection, "_connection", None)
        if raw is not None and raw.is_closed():
            raise DisconnectionError("connection closed by the server")


def _trace_statements(engine: AsyncEngine, database: str) -> None:
    """A client span per SQL statement run inside a trace (none outside one: no cost
    for untraced work such as bulk consumption)."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    from sqlalchemy import event

    tracer = trace.get_tracer("hygie.db")

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"db {verb}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": "postgresql",
                "db.namespace": database,
                "db.query.text": statement[:500],
            },
        )
        context._hygie_span = span

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        span = getattr(context, "_hygie_span", None)
        if span is not None:
            span.end()


def _upgrade(connection: Connection, location: Path, version_table: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = version_table
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine, *, service: str, migrations: Path | None) -> None:
    """Apply the platform migrations, then the service's own, under an advisory lock
    so that several replicas starting together migrate once."""
    lock_id = zlib.crc32(f"hygie-migrate-{service}".encode())
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        await conn.run_sync(_upgrade, PLATFORM_MIGRATIONS, "alembic_version_platform")
        if migrations is not None:
            await conn.run_sync(_upgrade, migrations, f"alembic_version_{service}")


def run_alembic_env() -> None:
    """Body of every ``env.py``: run migrations on the connection handed by :func:`migrate`."""
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Hygie migrations run at service start (hygie_platform.db.migrate)")
    context.configure(
        connection=connection,
        version_table=config.attributes["version_table"],
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def is_connection_error(exc: BaseException) -> bool:
    """True when an exception means PostgreSQL is unreachable (not a bad statement)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable | OSError | TimeoutError | ConnectionError):
            return True
        if isinstance(
            current,
            asyncpg.exceptions.ConnectionDoesNotExistError
            | asyncpg.exceptions.CannotConnectNowError
            | asyncpg.exceptions.AdminShutdownError
            | asyncpg.InterfaceError,
        ):
            return True
        if isinstance(current, InterfaceError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False
