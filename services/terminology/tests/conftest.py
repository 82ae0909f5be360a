"""Fixtures of the terminology tests: the service on the session's real PostgreSQL, and one
service per test module with the conformance vocabulary (vocab-synthea27nj) loaded."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from hygie_platform.config import Settings
from hygie_platform.db import asyncpg_dsn
from hygie_platform.testing import start_service
from hygie_terminology.bootstrap import make_spec
from hygie_terminology.service.loading import load_omop_release

SPEC = make_spec(starter=False)
REPO = Path(__file__).resolve().parents[3]
#: Conformance data live beside the repository, never in it.
VOCAB = REPO.parent / "shared" / "conformance" / "omop" / "vocab-synthea27nj"


def service_dsn(svc) -> str:  # type: ignore[no-untyped-def]
    return asyncpg_dsn(svc.runtime.dsn)


@pytest.fixture
async def terminology(hygie_settings):
    """The terminology service without background work (HTTP tests)."""
    async with start_service(SPEC, hygie_settings, background=False) as svc:
        yield svc


@pytest.fixture(scope="module")
async def loaded(hygie_infra, hygie_home):
    """One service per module with the conformance vocabulary as its active release."""
    if not VOCAB.is_dir():
        pytest.skip(f"conformance vocabulary not found at {VOCAB}")
    tag = uuid.uuid4().hex[:10]
    settings = Settings(
        database_url=hygie_infra.database_url,
        kafka=hygie_infra.kafka,
        database_prefix=f"t{tag}_",
        topic_prefix=f"t{tag}.",
        topic_partitions=3,
        home=hygie_home,
        relay_poll_seconds=0.2,
        log_json=False,
    )
    try:
        async with start_service(SPEC, settings, background=False) as svc:
            result = await load_omop_release(
                uow=svc.runtime.app.state.uow,
                dsn=service_dsn(svc),
                directory=VOCAB,
                dangling="drop",
                accepted_licences=["SNOMED"],
            )
            svc.load_result = result  # type: ignore[attr-defined]
            yield svc
    finally:
        conn = await asyncpg.connect(asyncpg_dsn(hygie_infra.database_url))
        try:
            for row in await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"t{tag}_%"
            ):
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()
