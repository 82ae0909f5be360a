"""Fixtures of the patient index tests: the service on the session's real PostgreSQL."""

from __future__ import annotations

import pytest

from hygie_patient_index.bootstrap import SPEC
from hygie_platform.testing import start_service


@pytest.fixture
async def mpi(hygie_settings):
    """The patient index without its background relay and consumers (HTTP tests)."""
    async with start_service(SPEC, hygie_settings, background=False) as svc:
        yield svc
