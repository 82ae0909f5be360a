"""Patient merges from the patient index (``hygie.patient.v1``): one EHR per surviving
patient, the merged patient's EHR re-pointed or linked, nothing deleted, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hygie_contracts import PartyRef
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import EhrRepository
from ..adapters.tables import ehr_link
from ..adapters.versions import VersionStore
from ..domain.ehr import Ehr
from ..domain.merge import GOLDEN_NAMESPACE, repointed_status, restored_status, retired_status
from ..domain.versioning import Audit, VersionUid
from .ehr import update_ehr_status

__all__ = ["MergeRefused", "apply_merge", "apply_unmerge"]

COMMITTER = {"_type": "PARTY_IDENTIFIED", "name": "hygie patient index"}


class MergeRefused(ValueError):
    """A merge event that cannot be applied (dead-lettered with this reason)."""


def _audit(system_id: str, description: str) -> Audit:
    return Audit(
        system_id=system_id,
        time_committed=datetime.now(UTC),
        change_type="modification",
        committer=COMMITTER,
        description=description,
    )


async def _new_status(uow: UnitOfWork, ehr: Ehr, status: dict, audit: Audit) -> None:  # type: ignore[type-arg]
    head = await VersionStore(uow.connection).head(ehr.ehr_status_id, for_update=True)
    assert head is not None
    await update_ehr_status(
        uow,
        ehr_id=ehr.ehr_id,
        if_match=VersionUid(ehr.ehr_status_id, audit.system_id, head.latest_version),
        status=status,
        audit=audit,
        templates=None,
    )


async def _current_status(uow: UnitOfWork, ehr: Ehr) -> dict:  # type: ignore[type-arg]
    store = VersionStore(uow.connection)
    head = await store.head(ehr.ehr_status_id)
    assert head is not None
    version = await store.version(ehr.ehr_status_id, head.latest_version)
    assert version is not None
    assert version.data is not None
    return version.data


async def apply_merge(
    uow: UnitOfWork,
    *,
    merged: UUID,
    survivor: UUID,
    event_id: str,
    system_id: str,
    by: str | None = None,
) -> str:
    """Apply ``patient.merged``; what was done (``repointed``, ``merged_into``, ``none``,
    ``already``)."""
    if merged == survivor:
        raise MergeRefused(f"patient {merged} cannot be merged into itself")
    active = await uow.connection.execute(
        sa.select(ehr_link.c.link_id).where(
            ehr_link.c.patient_id == merged,
            ehr_link.c.survivor_id == survivor,
            ehr_link.c.unmerged_at.is_(None),
        )
    )
    if active.first() is not None:
        return "already"  # a replayed merge (the unique index also guards a race)
    repo = EhrRepository(uow.connection)
    ehr = await repo.find_by_subject(PartyRef(namespace=GOLDEN_NAMESPACE, id=str(merged)))
    if ehr is None:
        return "none"  # the merged patient has no EHR under its golden id
    survivor_ehr = await repo.find_by_subject(
        PartyRef(namespace=GOLDEN_NAMESPACE, id=str(survivor))
    )
    kind = "repointed" if survivor_ehr is None else "merged_into"
    try:
        async with uow.connection.begin_nested():
            await uow.connection.execute(
                ehr_link.insert().values(
                    ehr_id=ehr.ehr_id,
                    kind=kind,
                    patient_id=merged,
                    survivor_id=survivor,
                    survivor_ehr_id=survivor_ehr.ehr_id if survivor_ehr else ehr.ehr_id,
                    was_modifiable=ehr.is_modifiable,
                    merged_at=datetime.now(UTC),
                    merge_event_id=event_id,
                )
            )
    except IntegrityError:
        return "already"  # a replayed merge: its link is active
    status = await _current_status(uow, ehr)
    why = f"patient {merged} merged into {survivor}" + (f" by {by}" if by else "")
    if survivor_ehr is None:
        new = repointed_status(status, merged=merged, survivor=survivor)
    else:
        new = retired_status(
            status, merged=merged, survivor=survivor, survivor_ehr=survivor_ehr.ehr_id
        )
    await _new_status(uow, ehr, new, _audit(system_id, why))
    return kind


async def apply_unmerge(
    uow: UnitOfWork,
    *,
    patient: UUID,
    previous_survivor: UUID,
    system_id: str,
    by: str | None = None,
) -> int:
    """Apply ``patient.unmerged``: every active link of the patient is undone (the EHR
    gets its own subject and flags back in a new EHR_STATUS version); how many."""
    links = (
        await uow.connection.execute(
            sa.select(ehr_link)
            .where(
                ehr_link.c.patient_id == patient,
                ehr_link.c.survivor_id == previous_survivor,
                ehr_link.c.unmerged_at.is_(None),
            )
            .with_for_update()
        )
    ).all()
    repo = EhrRepository(uow.connection)
    why = f"patient {patient} unmerged from {previous_survivor}" + (f" by {by}" if by else "")
    for link in links:
        ehr = await repo.get(link.ehr_id)
        assert ehr is not None
        status = await _current_status(uow, ehr)
        new = restored_status(
            status,
            patient=patient,
            was_modifiable=link.was_modifiable,
            repointed=link.kind == "repointed",
        )
        await _new_status(uow, ehr, new, _audit(system_id, why))
        await uow.connection.execute(
            ehr_link.update()
            .where(ehr_link.c.link_id == link.link_id)
            .values(unmerged_at=datetime.now(UTC))
        )
    return len(links)
