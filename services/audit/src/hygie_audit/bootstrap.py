"""The one place where the audit service is wired."""

from __future__ import annotations

from pathlib import Path

from hygie_contracts.audit import AUDIT_TOPIC
from hygie_platform.service import Platform, ServiceParts, ServiceSpec

from .config import AuditOptions
from .domain.tree_head import load_or_create_key
from .entrypoints import http_audit, http_fhir
from .entrypoints.subscribers import domain_events
from .entrypoints.worker import AuditWorker

__all__ = ["SPEC", "make_spec"]


def make_spec(options: AuditOptions | None = None) -> ServiceSpec:
    """The audit service with these options (tests shorten the schedules)."""

    def bootstrap(platform: Platform) -> ServiceParts:
        # Explicit options (tests) win; otherwise the HYGIE_AUDIT_* settings apply.
        opts = options or AuditOptions(
            retention_days=platform.settings.audit_retention_days,
            tree_head_seconds=platform.settings.audit_tree_head_seconds,
        )
        key = load_or_create_key(opts.key_file(platform.settings))
        worker = AuditWorker(platform.engine, platform.uow, key, opts)
        return ServiceParts(
            routers=[http_audit.router, http_fhir.router],
            subscriptions=[domain_events],
            on_start=[worker.start],
            state={
                "audit_key": key,
                "audit_engine": platform.engine,
                "audit_worker": worker,
                "audit_options": opts,
            },
        )

    return ServiceSpec(
        name="audit",
        bootstrap=bootstrap,
        migrations=Path(__file__).parent / "adapters" / "migrations",
        publishes=(AUDIT_TOPIC,),
    )


SPEC = make_spec()
