"""Use cases on EHRs; each runs inside one unit of work."""

from __future__ import annotations

from uuid import UUID

from hygie_contracts import PartyRef
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import EhrRepository
from ..domain.ehr import Ehr, new_ehr
from .errors import EhrNotFound

__all__ = ["create_ehr", "get_ehr"]


async def create_ehr(uow: UnitOfWork, *, system_id: str, subject: PartyRef | None,
                     committer: str | None, ehr_id: UUID | None = None,
                     is_queryable: bool = True, is_modifiable: bool = True) -> Ehr:
    """Create an EHR and journal ``hygie.ehr.ehr.created.v1`` in the same transaction."""
    ehr = new_ehr(system_id=system_id, subject=subject, ehr_id=ehr_id,
                  is_queryable=is_queryable, is_modifiable=is_modifiable)
    await EhrRepository(uow.connection).add(ehr, created_by=committer)
    uow.record(ehr.created_event(committer))
    return ehr


async def get_ehr(uow: UnitOfWork, ehr_id: UUID) -> Ehr:
    ehr = await EhrRepository(uow.connection).get(ehr_id)
    if ehr is None:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    return ehr
