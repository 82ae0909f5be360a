"""Where the session's PostgreSQL and broker come from."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..embedded import EmbeddedBroker, EmbeddedPostgres

__all__ = ["Infra", "session_infra"]


@dataclass
class Infra:
    """Addresses of the session's PostgreSQL and broker, and how they were obtained."""

    database_url: str
    kafka: str
    origin: str
    broker: EmbeddedBroker | None = None
    _stops: list[Any] = field(default_factory=list)

    def restart_broker(self) -> None:
        """Stop then start the embedded broker on the same port (it forgets its topics)."""
        if self.broker is None:
            raise RuntimeError("only the embedded broker can be restarted by tests")
        self.broker.stop()
        self.broker.start()


def _docker_answers() -> bool:
    if os.environ.get("HYGIE_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def session_infra() -> Iterator[Infra]:
    """External, testcontainers or embedded, in that order of preference, per component."""
    db_url = os.environ.get("HYGIE_DATABASE_URL")
    kafka = os.environ.get("HYGIE_KAFKA")
    origin = []
    with contextlib.ExitStack() as stack:
        docker = (db_url is None or kafka is None) and _docker_answers()
        broker = None
        if db_url:
            origin.append("external PostgreSQL")
        elif docker:
            from testcontainers.postgres import PostgresContainer

            pg = stack.enter_context(PostgresContainer("postgres:18", driver=None))
            db_url = pg.get_connection_url()
            origin.append("PostgreSQL container")
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hygie-pg-")))
            server = EmbeddedPostgres(tmp / "data", durable=False)
            db_url = server.start()
            stack.callback(server.stop)
            origin.append("embedded PostgreSQL")
        if kafka:
            origin.append("external broker")
        elif docker:
            from testcontainers.kafka import KafkaContainer

            container = stack.enter_context(KafkaContainer().with_kraft())
            kafka = container.get_bootstrap_server()
            origin.append("Kafka container")
        else:
            broker = EmbeddedBroker()
            kafka = broker.start()
            stack.callback(broker.stop)
            origin.append("embedded Tansu broker")
        yield Infra(database_url=db_url, kafka=kafka, origin=" + ".join(origin), broker=broker)
