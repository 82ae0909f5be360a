"""Fixtures of the EHR store's tests: a running service on the session's real PostgreSQL
and broker."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ehr_support import Client

from hygie_ehr.bootstrap import SPEC, bootstrap
from hygie_platform.service import Platform, ServiceParts
from hygie_platform.testing import RunningService, start_service


def _without_subscriptions(platform: Platform, **options: Any) -> ServiceParts:
    return dataclasses.replace(bootstrap(platform, **options), subscriptions=[])


#: The store as most tests need it: its API, journal and relay, without the patient-topic
#: consumer (joining and leaving a consumer group costs seconds per test); the merge tests
#: use ``consuming_service``.
API_ONLY = dataclasses.replace(SPEC, bootstrap=_without_subscriptions)


@pytest.fixture
async def ehr_service(hygie_settings) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    async with start_service(API_ONLY, hygie_settings) as svc:
        yield svc


@pytest.fixture
def client(ehr_service: RunningService) -> Client:
    return Client(ehr_service)


@pytest.fixture
async def consuming_service(hygie_settings) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    """The whole service, with its subscriber of patient merges."""
    async with start_service(SPEC, hygie_settings) as svc:
        yield svc
