"""The embedded PostgreSQL and broker a benchmark starts when ``HYGIE_DATABASE_URL`` /
``HYGIE_KAFKA`` do not name existing ones; each start appends its stop to ``stops``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

Stops = list[Callable[[], None]]


def embedded_postgres(work: Path, stops: Stops) -> str:
    """A durable embedded PostgreSQL (fsync, synchronous commit, as in production)."""
    from hygie_platform.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(work / "pgdata", durable=True)
    url = server.start()
    stops.append(server.stop)
    return url


def embedded_broker(work: Path, stops: Stops) -> str:
    """An embedded Tansu broker, logging to ``work/broker.log``."""
    from hygie_platform.embedded import EmbeddedBroker

    broker = EmbeddedBroker(log_file=work / "broker.log")
    address = broker.start()
    stops.append(broker.stop)
    return address


def stop_all(stops: Stops) -> None:
    """Stop what was started, last first; a failing stop does not keep the others running."""
    for stop in reversed(stops):
        with contextlib.suppress(Exception):
            stop()
