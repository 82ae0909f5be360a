"""Helpers of the audit service tests (imported by module name: pytest importlib mode)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from hygie_audit.bootstrap import make_spec
from hygie_audit.config import AuditOptions
from hygie_contracts import Event
from hygie_platform import kafka
from hygie_platform.db import asyncpg_dsn
from hygie_platform.envelope import Envelope, envelope_for
from hygie_platform.testing import RunningService, eventually

FAST = AuditOptions(poll_seconds=0.05, tree_head_seconds=3600, retention_check_seconds=3600)
SPEC = make_spec(FAST)
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


async def send(
    settings: Any, *items: Event | tuple[str, list[tuple[str, bytes]], bytes]
) -> list[Envelope]:
    """Put events (or raw records: topic, headers, value) on the broker as services do."""
    producer = kafka.producer(settings)
    await producer.start()
    sent = []
    try:
        for item in items:
            if isinstance(item, Event):
                env = envelope_for(item, source="/hygie/test")
                await producer.send_and_wait(
                    settings.topic(item.topic), key=env.key, value=env.data, headers=env.headers()
                )
                sent.append(env)
            else:
                topic, headers, value = item
                await producer.send_and_wait(
                    settings.topic(topic), key=b"k", value=value, headers=headers
                )
    finally:
        await producer.stop()
    return sent


async def entries(svc: RunningService, n: int) -> list[dict[str, Any]]:
    """Wait until the log holds ``n`` records; return them in log order."""

    async def check() -> list[dict[str, Any]] | None:
        rows = await svc.fetch("SELECT * FROM audit_entry ORDER BY seq")
        return rows if len(rows) >= n else None

    return await eventually(check)


async def superuser(svc: RunningService) -> asyncpg.Connection:
    """A connection as the cluster's superuser (an attacker with full database access)."""
    return await asyncpg.connect(asyncpg_dsn(svc.runtime.dsn))


def audit_event(patient: str = "urn:oid:1.2.250.1.71.4.2.1|0123", **extra: Any) -> dict[str, Any]:
    """A minimal valid AuditEvent as an ATX feed source sends it."""
    return {
        "resourceType": "AuditEvent",
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
        },
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R",
        "recorded": "2026-11-28T10:00:00Z",
        "outcome": "0",
        "agent": [{"who": {"identifier": {"value": "dr-house"}}, "requestor": True}],
        "source": {"observer": {"display": "lab-system"}},
        "entity": [
            {
                "what": {
                    "identifier": {"system": patient.split("|")[0], "value": patient.split("|")[1]}
                },
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                },
            }
        ],
        **extra,
    }
