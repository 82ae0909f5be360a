"""The pytest fixtures (see the package docstring)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from ..config import Settings
from ..db import asyncpg_dsn
from .infra import Infra, session_infra

T = TypeVar("T")


@pytest.fixture(scope="session")
def hygie_infra() -> Iterator[Infra]:
    """The session's PostgreSQL and broker (started once)."""
    with session_infra() as infra:
        yield infra


@pytest.fixture(scope="session")
def hygie_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home folder for the session (holds the local token-signing key)."""
    return tmp_path_factory.mktemp("hygie-home")


@pytest.fixture
async def hygie_settings(hygie_infra: Infra, hygie_home: Path) -> AsyncIterator[Settings]:
    """Settings of one test: its own databases and topics; dropped afterwards."""
    tag = uuid.uuid4().hex[:10]
    for name in [k for k in os.environ if k.startswith("HYGIE_")]:
        if name not in ("HYGIE_DATABASE_URL", "HYGIE_KAFKA"):
            os.environ.pop(name)
    settings = Settings(
        database_url=hygie_infra.database_url,
        kafka=hygie_infra.kafka,
        database_prefix=f"t{tag}_",
        topic_prefix=f"t{tag}.",
        topic_partitions=3,
        home=hygie_home,
        relay_poll_seconds=0.2,
        consumer_backoff_seconds=0.05,
        consumer_session_timeout_ms=6000,
        log_json=False,
    )
    yield settings
    await _drop_databases(hygie_infra.database_url, f"t{tag}_")


async def _drop_databases(url: str, prefix: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 15.0, interval: float = 0.1
) -> T:
    """Poll an async check until it returns a truthy value; return it (else AssertionError)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
