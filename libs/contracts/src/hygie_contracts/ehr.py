"""Events of the EHR store, on ``hygie.ehr.v1`` keyed by EHR id."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .base import Event

__all__ = [
    "EHR_TOPIC",
    "AuditDetails",
    "CompositionCommitted",
    "CompositionDeleted",
    "ContributionCommitted",
    "EhrCreated",
    "EhrErased",
    "EhrStatusUpdated",
    "FolderCommitted",
    "PartyRef",
    "TemplateUploaded",
]

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


class AuditDetails(BaseModel):
    """openEHR AUDIT_DETAILS of a commit: who, when, what kind of change, why."""

    model_config = ConfigDict(frozen=True)

    system_id: str
    time_committed: datetime
    change_type: str
    """openEHR change type: creation, amendment, modification, deleted, ..."""
    committer: str
    """the committer's name (PARTY_IDENTIFIED.name) or the token's subject"""
    description: str | None = None


class CompositionCommitted(Event):
    """A COMPOSITION version was committed (created or updated), validated against its template."""

    event_type: ClassVar[str] = "hygie.ehr.composition.committed.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    version_uid: str
    """``<versioned object id>::<system id>::<version>``"""
    preceding_version_uid: str | None = None
    contribution_id: UUID
    template_id: str
    archetype_id: str
    subject: PartyRef | None = None
    lifecycle_state: str = "complete"
    audit: AuditDetails
    composition: dict[str, Any]
    """the full canonical JSON of the committed version"""


class CompositionDeleted(Event):
    """A COMPOSITION was logically deleted (a tombstone version; its history stays readable)."""

    event_type: ClassVar[str] = "hygie.ehr.composition.deleted.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    version_uid: str
    preceding_version_uid: str
    contribution_id: UUID
    template_id: str | None = None
    subject: PartyRef | None = None
    audit: AuditDetails


class EhrStatusUpdated(Event):
    """A new EHR_STATUS version: subject, queryable and modifiable flags."""

    event_type: ClassVar[str] = "hygie.ehr.ehr_status.updated.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    version_uid: str
    preceding_version_uid: str
    contribution_id: UUID
    subject: PartyRef | None = None
    previous_subject: PartyRef | None = None
    is_queryable: bool = True
    is_modifiable: bool = True
    audit: AuditDetails
    ehr_status: dict[str, Any]


class ContributionCommitted(Event):
    """A CONTRIBUTION: the versions committed together in one change-set."""

    event_type: ClassVar[str] = "hygie.ehr.contribution.committed.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    contribution_id: UUID
    version_uids: list[str]
    audit: AuditDetails


class FolderCommitted(Event):
    """A new version of the EHR's directory (FOLDER tree)."""

    event_type: ClassVar[str] = "hygie.ehr.folder.committed.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    version_uid: str
    preceding_version_uid: str | None = None
    contribution_id: UUID
    audit: AuditDetails
    folder: dict[str, Any] | None = None
    """None when the directory was deleted"""


class TemplateUploaded(Event):
    """An ADL 1.4 operational template was stored (first upload or allowed overwrite)."""

    event_type: ClassVar[str] = "hygie.ehr.template.uploaded.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "template_id"

    template_id: str
    concept: str
    archetype_id: str
    sha256: str
    uploaded_by: str | None = None


class EhrErased(Event):
    """An EHR's clinical content was erased by an administrator (right to erasure, legal order,
    test data). Every composition, EHR_STATUS, folder and contribution of the EHR is gone from
    the store; only a tombstone of the EHR id (with this audit) is kept. Projections must remove
    everything they derived from the EHR's events."""

    event_type: ClassVar[str] = "hygie.ehr.ehr.erased.v1"
    topic: ClassVar[str] = EHR_TOPIC
    subject_field: ClassVar[str] = "ehr_id"

    ehr_id: UUID
    subject: PartyRef | None = None
    """the subject of the EHR's last EHR_STATUS (None when it had none)"""
    erased_at: datetime
    reason: str = Field(min_length=1)
    """why, as given by the administrator (required)"""
    requested_by: str = Field(min_length=1)
    """the administrator: the token's subject"""
