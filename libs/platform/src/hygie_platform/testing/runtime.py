"""Run a service in the test's event loop: its app over ASGI, its relay and subscribers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import Settings
from ..security import issue_token
from ..service import ServiceRuntime, ServiceSpec

__all__ = ["RunningService", "start_service"]


@dataclass
class RunningService:
    """A service started by a test: ``client`` speaks to its HTTP API."""

    runtime: ServiceRuntime
    client: httpx.AsyncClient

    def token(self, *roles: str, user: str = "tester") -> str:
        return issue_token(self.runtime.settings, user=user, roles=roles or ("admin",))

    def auth(self, *roles: str, user: str = "tester") -> dict[str, str]:
        """An ``Authorization`` header for a user holding these roles."""
        return {"Authorization": f"Bearer {self.token(*roles, user=user)}"}

    async def fetch(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a query on the service's own database (for assertions)."""
        from sqlalchemy import text

        assert self.runtime.engine is not None
        async with self.runtime.engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(r) for r in result.mappings()]


@contextlib.asynccontextmanager
async def start_service(
    spec: ServiceSpec, settings: Settings, *, background: bool = True
) -> AsyncIterator[RunningService]:
    """Prepare (database, migrations), start relay and subscribers, yield a client."""
    runtime = ServiceRuntime(spec, settings)
    app = await runtime.prepare()
    if background:
        runtime.start()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningService(runtime=runtime, client=client)
    finally:
        await runtime.stop()
