"""The one place where the terminology service is wired."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hygie_contracts.terminology import TERMINOLOGY_TOPIC
from hygie_platform.db import asyncpg_dsn, with_database
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .adapters.read_pool import ReadPool
from .entrypoints.fhir import (
    admin_api,
    batch_api,
    codesystem_api,
    conceptmap_api,
    outcome,
    release_api,
    valueset_api,
)
from .service.catalog import ActiveReleaseCache
from .service.starter import ensure_starter_set

__all__ = ["SPEC", "make_spec", "service_dsn"]

log = logging.getLogger(__name__)


def service_dsn(platform: Platform) -> str:
    """The asyncpg DSN of the service database (bulk loads use their own connection)."""
    database = platform.engine.url.database
    assert database is not None
    return asyncpg_dsn(with_database(platform.settings.database_url, database))


def make_bootstrap(*, starter: bool) -> Callable[[Platform], ServiceParts]:
    """The wiring; with ``starter`` the starter set is loaded at start when the service
    has no release yet (tests start empty)."""

    def bootstrap(platform: Platform) -> ServiceParts:
        dsn = service_dsn(platform)

        async def load_starter() -> None:
            # The service serves (FHIR resources, later releases) even if this fails.
            try:
                result = await ensure_starter_set(
                    platform.uow, dsn, accepted_licences=platform.settings.terminology_licences
                )
            except Exception:
                log.exception("the starter set could not be loaded")
                return
            if result is not None:
                log.info("starter set loaded as release %s", result.release_id)

        return _parts(
            dsn,
            on_start=[load_starter] if starter else [],
            pool_size=platform.settings.database_pool_size,
        )

    return bootstrap


def _parts(dsn: str, *, on_start: list[Callable[[], Any]], pool_size: int) -> ServiceParts:
    return ServiceParts(
        routers=[
            release_api.router,
            admin_api.router,
            batch_api.router,
            codesystem_api.router,
            valueset_api.router,
            conceptmap_api.router,
        ],
        render_error=outcome.operation_outcome,
        state={
            "terminology_dsn": dsn,
            "release_cache": ActiveReleaseCache(),
            "read_pool": ReadPool(dsn, max_size=pool_size),
        },
        on_start=on_start,
    )


def make_spec(*, starter: bool = True) -> ServiceSpec:
    return ServiceSpec(
        name="terminology",
        bootstrap=make_bootstrap(starter=starter),
        migrations=Path(__file__).parent / "adapters" / "migrations",
        publishes=(TERMINOLOGY_TOPIC,),
    )


SPEC = make_spec()
