"""The one place where the audit service is wired."""

from __future__ import annotations

from pathlib import Path

from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .entrypoints.subscribers import domain_events

__all__ = ["SPEC", "bootstrap"]


def bootstrap(platform: Platform) -> ServiceParts:
    return ServiceParts(subscriptions=[domain_events])


SPEC = ServiceSpec(
    name="audit",
    bootstrap=bootstrap,
    migrations=Path(__file__).parent / "adapters" / "migrations",
)
