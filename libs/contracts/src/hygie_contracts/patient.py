"""Events of the patient index, on ``hygie.patient.v1`` keyed by patient (golden) id, and
the identity feed of hospital applications, on ``hygie.ingest.patient.v1`` keyed by the
local identifier.

The INS (matricule + OID) travels only for identities whose RNIV status is QUAL
(Référentiel National d'IdentitoVigilance); otherwise only local identifiers travel.
Events carry the traits needed downstream (birth date, sex, death date, birth place
INSEE code), never names nor addresses.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Event

__all__ = [
    "INGEST_PATIENT_TOPIC",
    "PATIENT_TOPIC",
    "IdentityStatusChanged",
    "IngestAddress",
    "IngestTelecom",
    "InsIdentifier",
    "PatientIdentifier",
    "PatientLinked",
    "PatientMerged",
    "PatientRecorded",
    "PatientRegistered",
    "PatientReplaced",
    "PatientUnlinked",
    "PatientUnmerged",
    "PatientUpdated",
    "ReviewRequested",
]

PATIENT_TOPIC = "hygie.patient.v1"
INGEST_PATIENT_TOPIC = "hygie.ingest.patient.v1"

IdentityStatus = Literal["PROV", "RECUP", "VALI", "QUAL"]
AdministrativeSex = Literal["male", "female", "other", "unknown"]


class PatientIdentifier(BaseModel):
    """A local identifier: the assigning authority's system (URI) and the value."""

    model_config = ConfigDict(frozen=True)

    system: str = Field(min_length=1)
    value: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"


class InsIdentifier(BaseModel):
    """An INS: the matricule (NIR or NIA, 15 characters) and the OID of its authority."""

    model_config = ConfigDict(frozen=True)

    matricule: str
    oid: str


class _QualifiedInsOnly(Event):
    """Events that may carry an INS: only when the identity status is QUAL."""

    ins: InsIdentifier | None = None
    identity_status: IdentityStatus = "PROV"

    @model_validator(mode="after")
    def _ins_only_when_qualified(self) -> _QualifiedInsOnly:
        if self.ins is not None and self.identity_status != "QUAL":
            raise ValueError("the INS may only travel for a QUAL identity (RNIV)")
        return self


class _PatientSnapshot(_QualifiedInsOnly):
    """The golden record as downstream services need it."""

    patient_id: UUID
    version: int = 1
    active: bool = True
    identifiers: tuple[PatientIdentifier, ...] = ()
    birth_date: date | None = None
    sex: AdministrativeSex = "unknown"
    death_date: date | None = None
    birth_place_code: str | None = None
    replaced_by: UUID | None = None


class PatientRegistered(_PatientSnapshot):
    """A new golden record (master patient) was created."""

    event_type: ClassVar[str] = "hygie.patient.patient.registered.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"


class PatientUpdated(_PatientSnapshot):
    """A golden record changed (its traits, identifiers, status or death)."""

    event_type: ClassVar[str] = "hygie.patient.patient.updated.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"


class IdentityStatusChanged(_QualifiedInsOnly):
    """The RNIV status of a source identity changed (the golden id is the key)."""

    event_type: ClassVar[str] = "hygie.patient.patient.identity_status_changed.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"

    patient_id: UUID
    source_identifier: PatientIdentifier
    previous_status: IdentityStatus | None = None


class PatientLinked(Event):
    """A source identity was linked to a golden record."""

    event_type: ClassVar[str] = "hygie.patient.patient.linked.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"

    patient_id: UUID
    source_identifier: PatientIdentifier
    method: Literal["new", "deterministic", "probabilistic", "manual"]
    score: float | None = None
    by: str | None = None


class PatientUnlinked(Event):
    """A source identity was unlinked from a golden record (never auto-linked back)."""

    event_type: ClassVar[str] = "hygie.patient.patient.unlinked.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"

    patient_id: UUID
    source_identifier: PatientIdentifier
    new_patient_id: UUID
    by: str | None = None
    reason: str | None = None


class PatientMerged(Event):
    """A golden record was merged into a survivor: it is inactive, replaced by it."""

    event_type: ClassVar[str] = "hygie.patient.patient.merged.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"

    patient_id: UUID
    survivor_id: UUID
    by: str | None = None
    reason: str | None = None


class PatientUnmerged(Event):
    """A merge was undone: the golden record is active again with its own sources."""

    event_type: ClassVar[str] = "hygie.patient.patient.unmerged.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"

    patient_id: UUID
    previous_survivor_id: UUID
    by: str | None = None
    reason: str | None = None


class ReviewRequested(Event):
    """A possible duplicate needs a human decision (review queue item)."""

    event_type: ClassVar[str] = "hygie.patient.patient.review_requested.v1"
    topic: ClassVar[str] = PATIENT_TOPIC
    subject_field: ClassVar[str] = "patient_id"

    patient_id: UUID
    review_id: UUID
    candidate_id: UUID
    source_identifier: PatientIdentifier
    score: float
    reason: str


# --- identity feed of hospital applications (hygie.ingest.patient.v1) -------------------


class IngestAddress(BaseModel):
    model_config = ConfigDict(frozen=True)

    lines: tuple[str, ...] = ()
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    use: str | None = None


class IngestTelecom(BaseModel):
    model_config = ConfigDict(frozen=True)

    system: Literal["phone", "fax", "email", "pager", "url", "sms", "other"]
    value: str
    use: str | None = None


class PatientRecorded(Event):
    """An application registered or updated a patient in its own identifier domain
    (ADT A04/A08, PIXm ITI-104 create/update): the same rules as the FHIR API apply."""

    event_type: ClassVar[str] = "hygie.ingest.patient.recorded.v1"
    topic: ClassVar[str] = INGEST_PATIENT_TOPIC
    subject_field: ClassVar[str] = "identifier"

    identifier: PatientIdentifier
    other_identifiers: tuple[PatientIdentifier, ...] = ()
    birth_family_name: str | None = None
    birth_given_names: tuple[str, ...] = ()
    used_family_name: str | None = None
    used_given_name: str | None = None
    sex: AdministrativeSex = "unknown"
    birth_date: date | None = None
    birth_place_code: str | None = None
    death_date: date | None = None
    addresses: tuple[IngestAddress, ...] = ()
    telecoms: tuple[IngestTelecom, ...] = ()
    ins: InsIdentifier | None = None
    billing_nir: str | None = None
    identity_status: IdentityStatus = "PROV"
    validation_date: date | None = None
    active: bool = True


class PatientReplaced(Event):
    """An application merged two of its own patients (ADT A40, ITI-104 ``replaced-by``):
    ``identifier`` is replaced by ``replaced_by`` and becomes inactive."""

    event_type: ClassVar[str] = "hygie.ingest.patient.replaced.v1"
    topic: ClassVar[str] = INGEST_PATIENT_TOPIC
    subject_field: ClassVar[str] = "identifier"

    identifier: PatientIdentifier
    replaced_by: PatientIdentifier
