"""Use cases: merge and unmerge golden records, link and unlink source records.
All audited (who, why) and announced as events."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from hygie_contracts.patient import (
    PatientLinked,
    PatientMerged,
    PatientRegistered,
    PatientUnlinked,
    PatientUnmerged,
)
from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import PatientRepository
from ..adapters.tables import merge_record
from ..domain.errors import MergeRefused
from ..domain.golden import GoldenRecord, survive
from .errors import not_found
from .events import contract_identifier, snapshot_event
from .golden_ops import refresh_golden

__all__ = ["link_source", "merge_patients", "unlink_source", "unmerge_patient"]


async def merge_patients(
    uow: UnitOfWork,
    retired_id: UUID,
    survivor_id: UUID,
    *,
    by: str | None,
    reason: str | None = None,
) -> GoldenRecord:
    """Merge ``retired`` into ``survivor``: its sources move, it becomes inactive and
    replaced-by the survivor. Refused into an inactive record or onto itself."""
    if retired_id == survivor_id:
        raise MergeRefused("merge-into-self", "a patient cannot be merged into itself")
    repo = PatientRepository(uow.connection)
    await repo.lock_goldens([retired_id, survivor_id])
    retired, survivor = await repo.golden(retired_id), await repo.golden(survivor_id)
    if retired is None or survivor is None:
        raise not_found(f"no patient {retired_id if retired is None else survivor_id}")
    if not survivor.active:
        raise MergeRefused(
            "merge-into-inactive",
            f"patient {survivor_id} is inactive (replaced by "
            f"{survivor.replaced_by}): merge into the active record",
        )
    if not retired.active:
        raise MergeRefused("already-merged", f"patient {retired_id} is already inactive")
    moved = [s.id for s in await repo.sources_of([retired_id])]
    await repo.relink(moved, survivor_id)
    await repo.carry_exclusions(retired_id, survivor_id)
    await uow.connection.execute(
        merge_record.insert().values(
            id=uuid7(),
            retired_id=retired_id,
            survivor_id=survivor_id,
            moved_sources=moved,
            by=by,
            reason=reason,
        )
    )
    uow.record(PatientMerged(patient_id=retired_id, survivor_id=survivor_id, by=by, reason=reason))
    await refresh_golden(uow, retired_id, active=False, replaced_by=survivor_id)
    return await refresh_golden(uow, survivor_id)


async def unmerge_patient(
    uow: UnitOfWork, retired_id: UUID, *, by: str | None, reason: str | None = None
) -> GoldenRecord:
    """Undo the last merge of ``retired``: it is active again with the sources it had
    (those still linked to the survivor)."""
    conn = uow.connection
    row = (
        (
            await conn.execute(
                sa.select(merge_record)
                .where(merge_record.c.retired_id == retired_id, merge_record.c.undone_at.is_(None))
                .order_by(merge_record.c.merged_at.desc())
                .limit(1)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise MergeRefused("not-merged", f"patient {retired_id} has no merge to undo")
    survivor_id = row["survivor_id"]
    repo = PatientRepository(conn)
    await repo.lock_goldens([retired_id, survivor_id])
    still = {s.id for s in await repo.sources_of([survivor_id])}
    back = [s for s in row["moved_sources"] if s in still]
    await repo.relink(back, retired_id)
    await conn.execute(
        sa.update(merge_record)
        .where(merge_record.c.id == row["id"])
        .values(undone_at=sa.func.now(), undone_by=by)
    )
    uow.record(
        PatientUnmerged(
            patient_id=retired_id, previous_survivor_id=survivor_id, by=by, reason=reason
        )
    )
    restored = await refresh_golden(uow, retired_id, active=True, clear_replaced_by=True)
    await refresh_golden(uow, survivor_id)
    return restored


async def unlink_source(
    uow: UnitOfWork, source_id: UUID, *, by: str | None, reason: str | None = None
) -> GoldenRecord:
    """Take a source record out of its golden record into a new one; the pair is
    remembered so that it is never auto-linked again."""
    repo = PatientRepository(uow.connection)
    source = await repo.source(source_id, lock=True)
    if source is None or source.golden_id is None:
        raise not_found(f"no source record {source_id}")
    old_id = source.golden_id
    await repo.lock_goldens([old_id])
    if len(await repo.sources_of([old_id])) < 2:
        raise MergeRefused(
            "unlink-last-source", f"source record {source_id} is the only one of patient {old_id}"
        )
    new_id = uuid7()
    golden = survive(new_id, [source.evolve(golden_id=new_id)])
    await repo.add_golden(golden)
    await repo.relink([source_id], new_id)
    await repo.exclude(source_id, old_id, by=by, reason=reason)
    ident = contract_identifier(source.identifier)
    uow.record(
        PatientUnlinked(
            patient_id=old_id, source_identifier=ident, new_patient_id=new_id, by=by, reason=reason
        )
    )
    uow.record(snapshot_event(PatientRegistered, golden))
    uow.record(PatientLinked(patient_id=new_id, source_identifier=ident, method="manual", by=by))
    await refresh_golden(uow, old_id)
    return golden


async def link_source(
    uow: UnitOfWork, source_id: UUID, golden_id: UUID, *, by: str | None, reason: str | None = None
) -> GoldenRecord:
    """Move a source record into ``golden_id``; a golden record left without sources is
    merged into it."""
    repo = PatientRepository(uow.connection)
    source = await repo.source(source_id, lock=True)
    if source is None or source.golden_id is None:
        raise not_found(f"no source record {source_id}")
    old_id = source.golden_id
    if old_id == golden_id:
        return await refresh_golden(uow, golden_id)
    await repo.lock_goldens([old_id, golden_id])
    target = await repo.golden(golden_id)
    if target is None:
        raise not_found(f"no patient {golden_id}")
    if not target.active:
        raise MergeRefused("merge-into-inactive", f"patient {golden_id} is inactive")
    if len(await repo.sources_of([old_id])) < 2:
        return await merge_patients(uow, old_id, golden_id, by=by, reason=reason)
    await repo.relink([source_id], golden_id)
    await repo.forget_exclusion(source_id, golden_id)
    ident = contract_identifier(source.identifier)
    uow.record(
        PatientUnlinked(
            patient_id=old_id,
            source_identifier=ident,
            new_patient_id=golden_id,
            by=by,
            reason=reason,
        )
    )
    uow.record(PatientLinked(patient_id=golden_id, source_identifier=ident, method="manual", by=by))
    await refresh_golden(uow, old_id)
    return await refresh_golden(uow, golden_id)
