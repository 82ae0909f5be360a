"""The one place where the terminology service is wired."""

from __future__ import annotations

from pathlib import Path

from hygie_contracts.terminology import TERMINOLOGY_TOPIC
from hygie_platform.db import asyncpg_dsn, with_database
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .entrypoints.fhir import (
    admin_api,
    batch_api,
    codesystem_api,
    conceptmap_api,
    outcome,
    release_api,
    valueset_api,
)

__all__ = ["SPEC", "bootstrap", "service_dsn"]


def service_dsn(platform: Platform) -> str:
    """The asyncpg DSN of the service database (bulk loads use their own connection)."""
    database = platform.engine.url.database
    assert database is not None
    return asyncpg_dsn(with_database(platform.settings.database_url, database))


def bootstrap(platform: Platform) -> ServiceParts:
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
        state={"terminology_dsn": service_dsn(platform)},
    )


SPEC = ServiceSpec(
    name="terminology",
    bootstrap=bootstrap,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=(TERMINOLOGY_TOPIC,),
)
