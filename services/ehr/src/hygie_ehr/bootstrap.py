"""The one place where the EHR store is wired."""

from __future__ import annotations

from pathlib import Path

from hygie_contracts import EHR_TOPIC
from hygie_contracts.access import ACCESS_TOPIC
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .adapters.templates import TemplateCache
from .entrypoints.http import ROUTERS
from .entrypoints.http.common import openehr_error
from .entrypoints.query import router as query_router
from .entrypoints.subscribers import patient_merges
from .service.query import QueryLimits

__all__ = ["SPEC", "bootstrap"]

#: AUDIT_DETAILS.system_id and the middle part of every version uid. To become a setting
#: (HYGIE_EHR_SYSTEM_ID) once the platform settings accept per-service keys.
SYSTEM_ID = "hygie"


def bootstrap(
    platform: Platform,
    *,
    system_id: str = SYSTEM_ID,
    template_overwrite: bool = False,
    query_limits: QueryLimits | None = None,
) -> ServiceParts:
    return ServiceParts(
        routers=[*ROUTERS, query_router],
        subscriptions=[patient_merges(system_id)],
        render_error=openehr_error,
        state={
            "system_id": system_id,
            "templates": TemplateCache(),
            "template_overwrite": template_overwrite,
            "query_limits": query_limits or QueryLimits(),
        },
    )


SPEC = ServiceSpec(
    name="ehr",
    bootstrap=bootstrap,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=(EHR_TOPIC, ACCESS_TOPIC),  # access events: every AQL query (ARCHITECTURE §9)
)
