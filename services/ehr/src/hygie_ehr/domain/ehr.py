"""The EHR aggregate (openEHR RM EHR + the subject of its EHR_STATUS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from hygie_contracts import EhrCreated, PartyRef

__all__ = ["Ehr", "new_ehr"]


@dataclass(frozen=True)
class Ehr:
    ehr_id: UUID
    system_id: str
    time_created: datetime
    subject: PartyRef | None
    ehr_status_id: UUID
    is_queryable: bool = True
    is_modifiable: bool = True
    directory_id: UUID | None = None

    def created_event(self, committer: str | None) -> EhrCreated:
        return EhrCreated(
            ehr_id=self.ehr_id,
            system_id=self.system_id,
            time_created=self.time_created,
            subject=self.subject,
            is_queryable=self.is_queryable,
            is_modifiable=self.is_modifiable,
            committer=committer,
        )


def new_ehr(
    *,
    system_id: str,
    subject: PartyRef | None,
    ehr_id: UUID | None = None,
    is_queryable: bool = True,
    is_modifiable: bool = True,
    now: datetime | None = None,
) -> Ehr:
    """A new EHR with a fresh id and its first EHR_STATUS id."""
    return Ehr(
        ehr_id=ehr_id or uuid4(),
        system_id=system_id,
        time_created=now or datetime.now(UTC),
        subject=subject,
        ehr_status_id=uuid4(),
        is_queryable=is_queryable,
        is_modifiable=is_modifiable,
    )
