"""The service runtime: one process runs a service's HTTP API, its subscribers and its
outbox relay, wired from the settings (ARCHITECTURE §2, CONVENTIONS §5)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from . import kafka
from .config import ConfigError, Settings, load_settings
from .consumer import Subscription, SubscriptionRunner
from .db import (
    DatabaseUnavailable,
    create_engine,
    ensure_database,
    migrate,
    service_database_name,
    with_database,
)
from .http import ErrorRenderer, create_app, problem_response
from .relay import OutboxRelay
from .security import TokenVerifier
from .telemetry import setup_logging, setup_telemetry
from .uow import UnitOfWorkFactory

__all__ = ["Platform", "ServiceParts", "ServiceRuntime", "ServiceSpec", "run_service"]

log = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Platform:
    """What the platform hands to a service's bootstrap."""

    settings: Settings
    service: str
    engine: AsyncEngine
    uow: UnitOfWorkFactory


@dataclass
class ServiceParts:
    """What a service's bootstrap returns: its routers and its subscriptions."""

    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    render_error: ErrorRenderer = problem_response
    on_start: Sequence[Callable[[], Any]] = ()
    state: dict[str, Any] = field(default_factory=dict)
    """Set on ``app.state`` for the routers (``app.state.uow`` is always there)."""


@dataclass(frozen=True)
class ServiceSpec:
    """A service: its name, its migrations, the topics it publishes and its wiring."""

    name: str
    bootstrap: Callable[[Platform], ServiceParts]
    migrations: Path | None = None
    publishes: tuple[str, ...] = ()
    openapi_prefix: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class ServiceRuntime:
    """A started service: ``app`` for HTTP, ``start()``/``stop()`` for background work."""

    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self.database = service_database_name(settings, spec.name)
        self.dsn = with_database(settings.database_url, self.database)
        self.engine: AsyncEngine | None = None
        self.relay = OutboxRelay(settings, dsn=self.dsn, service=spec.name)
        self.runners: list[SubscriptionRunner] = []
        self.app: FastAPI | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def prepare(self) -> FastAPI:
        """Create and migrate the database, wire the service, build the HTTP app."""
        setup_telemetry(self.spec.name, self.settings)
        await ensure_database(self.settings, self.database)
        self.engine = create_engine(self.settings, self.database)
        await migrate(self.engine, service=self.spec.name, migrations=self.spec.migrations)
        uow = UnitOfWorkFactory(self.engine, source=f"/hygie/{self.spec.name}")
        platform = Platform(
            settings=self.settings, service=self.spec.name, engine=self.engine, uow=uow
        )
        parts = self.spec.bootstrap(platform)
        self.runners = [
            SubscriptionRunner(self.settings, s, service=self.spec.name, uow=uow)
            for s in parts.subscriptions
        ]
        for hook in parts.on_start:
            result = hook()
            if asyncio.iscoroutine(result):
                await result
        self.app = create_app(
            service=self.spec.name,
            verifier=TokenVerifier(self.settings),
            routers=parts.routers,
            health=self.health,
            render_error=parts.render_error,
            max_body_bytes=self.settings.http_max_body_bytes,
        )
        self.app.state.runtime = self
        self.app.state.uow = uow
        for key, value in parts.state.items():
            setattr(self.app.state, key, value)
        return self.app

    def start(self) -> None:
        """Start the relay and the subscribers in the background."""
        self._tasks.append(asyncio.create_task(self._ensure_topics(), name="topics"))
        self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
        for runner in self.runners:
            self._tasks.append(asyncio.create_task(runner.run(), name=runner.consumer_key))

    async def _ensure_topics(self) -> None:
        delay = 0.5
        while self.spec.publishes:
            try:
                await kafka.ensure_topics(self.settings, self.spec.publishes)
                return
            except Exception as exc:  # broker not there yet: the relay reports it
                log.info("topics of %s not created yet: %s", self.spec.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a client stuck flushing to an unreachable broker must not hold the
            # process (what it had not published stays in the journal for the next start).
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
            for task in stuck:
                log.warning("%s did not stop within %ss; abandoned", task.get_name(), STOP_TIMEOUT)
        self._tasks.clear()
        if self.engine is not None:
            await self.engine.dispose()

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Database, broker, outbox backlog and each consumer's lag and dead letters."""
        body: dict[str, Any] = {"service": self.spec.name}
        db_ok, backlog = True, None
        try:
            assert self.engine is not None
            async with self.engine.connect() as conn:
                backlog = (
                    await conn.execute(
                        text("SELECT count(*) FROM journal WHERE published_at IS NULL")
                    )
                ).scalar_one()
        except Exception as exc:
            db_ok = False
            body["database_error"] = f"{type(exc).__name__}: {exc}"
        consumers = []
        for runner in self.runners:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.lag(), 2)
            st = runner.status
            consumers.append(
                {
                    "group": st.group_id,
                    "connected": st.connected,
                    "lag": sum(st.lag.values()),
                    "processed": st.processed,
                    "duplicates_skipped": st.skipped_duplicates,
                    "dead_lettered": st.dead_lettered,
                    "last_error": st.last_error,
                }
            )
        relay = self.relay.status
        broker_ok = await kafka.broker_reachable(self.settings)
        broker_ok = broker_ok and (
            relay.broker_connected or (not relay.leader and not relay.last_error)
        )
        broker_ok = broker_ok and all(c["connected"] for c in consumers)
        ok = db_ok and broker_ok
        body.update(
            {
                "status": "ok" if ok else "unhealthy",
                "database": "ok" if db_ok else "unreachable",
                "broker": "ok" if broker_ok else "unreachable",
                "relay": {
                    "leader": self.relay.status.leader,
                    "published": self.relay.status.published,
                    "last_error": self.relay.status.last_error,
                },
                "outbox_backlog": backlog,
                "consumers": consumers,
            }
        )
        return ok, body


def _check_port_free(host: str, port: int, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"{setting}: port {port} on {host} is not free ({exc.strerror})"
            ) from None


def run_service(spec: ServiceSpec) -> None:
    """``python -m hygie_<service>``: HTTP + subscribers + outbox relay, until stopped."""
    import sys

    try:
        settings = load_settings()
        setup_logging(spec.name, settings)
        port = settings.port_of(spec.name)
        _check_port_free(settings.http_host, port, f"HYGIE_{spec.name.upper()}_PORT")
        _run(_serve(ServiceRuntime(spec, settings), port))
    except (ConfigError, DatabaseUnavailable) as exc:
        print(f"hygie-{spec.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (its event loop and transports are C), else on
    asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a platform dependency but Windows
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _serve(runtime: ServiceRuntime, port: int) -> None:
    import uvicorn

    try:
        app = await runtime.prepare()
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"HYGIE_DATABASE_URL: {exc}") from None
    # What start-up built (modules, the app, models, table metadata) lives as long as the
    # process: frozen out of the collector, a full collection no longer walks it (a pause
    # of the event loop of a tenth of a second and more, every few thousand requests).
    gc.collect()
    gc.freeze()
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        log.info("hygie-%s listening on %s", runtime.spec.name, settings.url_of(runtime.spec.name))
        try:
            yield
        finally:
            await runtime.stop()

    app.router.lifespan_context = lifespan
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port,
        log_config=None,
        access_log=False,
        # Longer than any client's idle keep-alive (httpx 5 s, most proxies 60 s): a server
        # closing an idle connection just as a client reuses it drops that request.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    await uvicorn.Server(config).serve()
