"""Erasing an EHR (admin API): its clinical content removed from the store in one
transaction with the ``hygie.ehr.ehr.erased.v1`` event, a tombstone of the id kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from hygie_contracts import PartyRef
from hygie_contracts.ehr import EhrErased
from hygie_platform.uow import UnitOfWork

from ..adapters.erasure import ErasureStore, Tombstone
from ..adapters.repository import EhrRepository
from .errors import BadRequest, EhrNotFound

__all__ = ["MAX_REASON", "Erased", "erase_ehr", "erased_message"]

#: A reason is a sentence or a reference to a request or order, not a document.
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class Erased:
    """The outcome of an erasure: the tombstone and the subject the EHR had."""

    tombstone: Tombstone
    subject: PartyRef | None


def erased_message(tombstone: Tombstone) -> str:
    return f"EHR {tombstone.ehr_id} was erased at {tombstone.erased_at.isoformat()}"


async def erase_ehr(
    uow: UnitOfWork, *, ehr_id: UUID, reason: str, requested_by: str, now: datetime
) -> Erased:
    """Remove every composition, EHR_STATUS, folder, contribution and merge link of the EHR,
    keep a tombstone of its id, and journal ``EhrErased`` — all in this unit of work.
    ``EhrNotFound`` for an unknown (or already erased) EHR, ``BadRequest`` without a reason."""
    reason = reason.strip()
    if not reason:
        raise BadRequest("a reason is required to erase an EHR")
    if len(reason) > MAX_REASON:
        raise BadRequest(f"the reason is longer than {MAX_REASON} characters")
    store = ErasureStore(uow.connection)
    if not await store.lock(ehr_id):
        earlier = await store.tombstone(ehr_id)
        if earlier is not None:
            raise EhrNotFound(erased_message(earlier))
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    # read after the lock: the subject of the latest EHR_STATUS, not of a concurrent update
    ehr = await EhrRepository(uow.connection).get(ehr_id)
    assert ehr is not None
    tombstone = await store.erase(ehr_id, erased_at=now, requested_by=requested_by, reason=reason)
    uow.record(
        EhrErased(
            ehr_id=ehr_id,
            subject=ehr.subject,
            erased_at=now,
            reason=reason,
            requested_by=requested_by,
        )
    )
    return Erased(tombstone, ehr.subject)
