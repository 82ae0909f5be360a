"""Events of the EHR store, on ``hygie.ehr.v1`` keyed by EHR id."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .base import Event

__all__ = ["EHR_TOPIC", "EhrCreated", "PartyRef"]

EHR_TOPIC = "hygie.ehr.v1"


class PartyRef(BaseModel):
    """The subject of an EHR: an identifier of the patient in a namespace."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    id: str


class EhrCreated(Event):
    """An EHR was created for a subject (openEHR EHR + its first EHR_STATUS)."""

    event_type: ClassVar[str] = "hygie.ehr.ehr.created.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    system_id: str
    time_created: datetime
    subject: PartyRef | None = None
    is_queryable: bool = True
    is_modifiable: bool = True
    committer: str | None = None
