"""Test fixtures for Hygie (a pytest plugin, loaded through the ``pytest11`` entry point).

Session-wide PostgreSQL and Kafka-protocol broker: external when ``HYGIE_DATABASE_URL`` /
``HYGIE_KAFKA`` are set, testcontainers when a Docker engine answers, embedded otherwise.
Each test gets its own databases (prefix) and topics (prefix), so tests run in any order.
"""

from .infra import Infra, session_infra
from .plugin import eventually
from .runtime import RunningService, start_service

__all__ = ["Infra", "RunningService", "eventually", "session_infra", "start_service"]
