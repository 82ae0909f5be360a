"""Fixtures of the EHR store's tests: a running service on the session's real PostgreSQL
and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ehr_support import Client

from hygie_ehr.bootstrap import SPEC
from hygie_platform.testing import RunningService, start_service


@pytest.fixture
async def ehr_service(hygie_settings) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    async with start_service(SPEC, hygie_settings) as svc:
        yield svc


@pytest.fixture
def client(ehr_service: RunningService) -> Client:
    return Client(ehr_service)
