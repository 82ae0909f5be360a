"""A pool of plain asyncpg connections for the hot read operations ($lookup): one round
trip per request (no pool pre-ping, no BEGIN/COMMIT around a single SELECT), statements
prepared once per connection by asyncpg's statement cache."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

__all__ = ["ReadPool"]


async def _keep(_: asyncpg.Connection) -> None:
    """Nothing to reset: these connections only run SELECTs (no SET, LISTEN, locks)."""


class ReadPool:
    """Created at first use, in the event loop that serves; idle connections close."""

    def __init__(self, dsn: str, *, max_size: int = 10) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _get(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=0,
                        max_size=self.max_size,
                        max_inactive_connection_lifetime=60,
                        reset=_keep,
                    )
        return self._pool

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await (await self._get()).fetchrow(sql, *args)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
