"""The one place where the patient index is wired."""

from __future__ import annotations

from pathlib import Path

from hygie_contracts.access import ACCESS_TOPIC
from hygie_contracts.patient import PATIENT_TOPIC
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .entrypoints.fhir import admin_api, patient_api, pix_api, task_api
from .entrypoints.fhir.outcome import operation_outcome
from .entrypoints.subscribers import identity_feed
from .service.context import IndexContext
from .service.training import load_trained_model

__all__ = ["SPEC", "bootstrap", "make_bootstrap"]


def make_bootstrap(ctx: IndexContext | None = None):  # type: ignore[no-untyped-def]
    """A bootstrap with its matching context (tests inject thresholds and a clock)."""
    context = ctx or IndexContext()

    def bootstrap(platform: Platform) -> ServiceParts:
        async def load_model() -> None:
            async with platform.uow() as uow:
                await load_trained_model(uow, context)

        # $ihe-pix and $match are declared before Patient/{id} so they are not taken for ids.
        return ServiceParts(
            routers=[pix_api.router, admin_api.router, task_api.router, patient_api.router],
            subscriptions=[identity_feed(context)],
            render_error=operation_outcome,
            state={"patient_index": context},
            on_start=[load_model],
        )

    return bootstrap


bootstrap = make_bootstrap()

SPEC = ServiceSpec(
    name="patient_index",
    bootstrap=bootstrap,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=(PATIENT_TOPIC, ACCESS_TOPIC),
)
