"""Keeping golden records in step with their sources, and announcing their changes."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from hygie_contracts.patient import PatientUpdated
from hygie_platform.uow import UnitOfWork

from ..adapters.codec import golden_snapshot
from ..adapters.repository import PatientRepository
from ..domain.golden import GoldenRecord, survive
from .errors import not_found
from .events import snapshot_event

__all__ = ["refresh_golden"]


async def refresh_golden(
    uow: UnitOfWork,
    golden_id: UUID,
    *,
    active: bool | None = None,
    replaced_by: UUID | None = None,
    clear_replaced_by: bool = False,
) -> GoldenRecord:
    """Recompute a (locked) golden record from its sources; journal ``updated`` if it changed."""
    repo = PatientRepository(uow.connection)
    old = await repo.golden(golden_id, lock=True)
    if old is None:
        raise not_found(f"no patient {golden_id}")
    now_active = old.active if active is None else active
    now_replaced = None if clear_replaced_by else (replaced_by or old.replaced_by)
    sources = await repo.sources_of([golden_id])
    if sources:
        new = survive(
            golden_id,
            sources,
            record_of_truth=old.record_of_truth,
            version=old.version,
            active=now_active,
            replaced_by=now_replaced,
        )
    else:  # a retired record keeps its last traits
        new = replace(
            old, active=now_active, replaced_by=now_replaced, source_ids=(), identifiers=()
        )
    unchanged = (
        golden_snapshot(new) == golden_snapshot(old)
        and new.status == old.status
        and new.active == old.active
        and new.replaced_by == old.replaced_by
    )
    if unchanged:
        return old
    new = replace(new, version=old.version + 1)
    await repo.save_golden(new)
    uow.record(snapshot_event(PatientUpdated, new))
    return new
