"""Retention: delete records older than the retention period, keep their Merkle hashes,
and log the purge itself (French health code: at least 6 rolling months)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters.log_store import append_records, lock_log, tree_size
from ..adapters.tables import audit_entry, retention_purge
from ..domain.balp import DCM
from ..domain.entries import NewRecord

__all__ = ["PurgeResult", "purge_older_than"]


@dataclass(frozen=True)
class PurgeResult:
    below_seq: int
    deleted: int
    cutoff: datetime


async def purge_older_than(uow: UnitOfWorkFactory, *, days: int) -> PurgeResult | None:
    """Delete the records stored more than ``days`` ago (a prefix of the log)."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    async with uow() as u:
        conn = u.connection
        await lock_log(conn)
        keep_from = (
            await conn.execute(
                sa.select(sa.func.min(audit_entry.c.seq)).where(audit_entry.c.stored_at >= cutoff)
            )
        ).scalar()
        below = keep_from if keep_from is not None else await tree_size(conn)
        deleted = (
            await conn.execute(sa.text("SELECT audit_purge(:below)"), {"below": below})
        ).scalar_one()
        if not deleted:
            return None
        event_id = uuid7()
        await conn.execute(
            retention_purge.insert().values(
                event_id=event_id, below_seq=below, deleted=deleted, cutoff=cutoff
            )
        )
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        record = NewRecord(
            event_id=event_id,
            resource=(
                {
                    "resourceType": "AuditEvent",
                    "type": {
                        "system": DCM,
                        "code": "110100",
                        "display": "Application Activity",
                    },
                    "subtype": [{"system": "urn:hygie:audit", "code": "retention-purge"}],
                    "action": "D",
                    "recorded": now,
                    "outcome": "0",
                    "agent": [{"who": {"display": "/hygie/audit"}, "requestor": True}],
                    "source": {"observer": {"display": "/hygie/audit"}},
                    "entity": [
                        {
                            "what": {
                                "identifier": {
                                    "system": "urn:hygie:audit-log",
                                    "value": f"0-{below - 1}",
                                }
                            },
                            "detail": [
                                {"type": "deleted", "valueString": str(deleted)},
                                {"type": "below_seq", "valueString": str(below)},
                                {"type": "cutoff", "valueString": cutoff.isoformat()},
                            ],
                        }
                    ],
                }
            ),
            source_event_type="hygie.audit.retention.purged",
            subject="retention",
        )
        await append_records(conn, [record])
        return PurgeResult(below_seq=below, deleted=deleted, cutoff=cutoff)
