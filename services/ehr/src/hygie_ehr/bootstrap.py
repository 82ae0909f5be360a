"""The one place where the EHR store is wired."""

from __future__ import annotations

from pathlib import Path

from hygie_contracts import EHR_TOPIC
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .entrypoints.http import router

__all__ = ["SPEC", "bootstrap"]

SYSTEM_ID = "hygie"


def bootstrap(platform: Platform) -> ServiceParts:
    return ServiceParts(routers=[router], state={"system_id": SYSTEM_ID})


SPEC = ServiceSpec(
    name="ehr",
    bootstrap=bootstrap,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=(EHR_TOPIC,),
)
