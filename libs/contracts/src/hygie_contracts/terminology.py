"""Events of the terminology service, on ``hygie.terminology.v1`` keyed by code system, and
the batch translate API that projections call (``POST /fhir/$translate-batch``).

Consumers (the OMOP projection) use the events to invalidate their caches and re-map the
rows whose source codes changed: a release activation changes every OMOP mapping at once;
a ConceptMap change names the source codes whose targets changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Event

__all__ = [
    "OMOP_SYSTEM",
    "TERMINOLOGY_TOPIC",
    "ChangeKind",
    "CodeSystemChanged",
    "ConceptMapChanged",
    "MappedConcept",
    "ReleaseActivated",
    "SourceCode",
    "TranslateBatchRequest",
    "TranslateBatchResponse",
    "TranslateResult",
    "ValueSetChanged",
    "VocabularyVersion",
]

TERMINOLOGY_TOPIC = "hygie.terminology.v1"
#: The code system of OMOP concept ids (OHDSI Standardized Vocabularies, HL7 UTG).
OMOP_SYSTEM = "https://fhir-terminology.ohdsi.org"

ChangeKind = Literal["created", "replaced", "deleted"]


class VocabularyVersion(BaseModel):
    """One vocabulary of a release: its OMOP id, its FHIR system and its version."""

    model_config = ConfigDict(frozen=True)

    vocabulary_id: str
    system: str
    version: str | None = None
    concept_count: int = 0


class ReleaseActivated(Event):
    """An OMOP vocabulary release became the one answering every query.

    Keyed by the OMOP code system: every OMOP mapping may have changed.
    """

    event_type: ClassVar[str] = "hygie.terminology.release.activated.v1"
    topic: ClassVar[str] = TERMINOLOGY_TOPIC
    subject_field: ClassVar[str] = "code_system"

    code_system: str = OMOP_SYSTEM
    release_id: int
    label: str
    previous_release_id: int | None = None
    vocabularies: tuple[VocabularyVersion, ...] = ()
    concept_count: int
    relationship_count: int
    activated_at: datetime


class CodeSystemChanged(Event):
    """A FHIR CodeSystem (``url|version``) was loaded, replaced or deleted."""

    event_type: ClassVar[str] = "hygie.terminology.code_system.changed.v1"
    topic: ClassVar[str] = TERMINOLOGY_TOPIC
    subject_field: ClassVar[str] = "url"

    url: str
    version: str = ""
    change: ChangeKind
    concept_count: int = 0


class ValueSetChanged(Event):
    """A FHIR ValueSet (``url|version``) was loaded, replaced or deleted."""

    event_type: ClassVar[str] = "hygie.terminology.value_set.changed.v1"
    topic: ClassVar[str] = TERMINOLOGY_TOPIC
    subject_field: ClassVar[str] = "url"

    url: str
    version: str = ""
    change: ChangeKind


class ConceptMapChanged(Event):
    """A FHIR ConceptMap changed; keyed by its source code system.

    ``changed_source_codes`` lists the source codes whose targets changed (added, removed
    or altered), at most 10,000; ``all_changed`` is true when there were more, and then
    every code of ``source_system`` must be re-mapped.
    """

    event_type: ClassVar[str] = "hygie.terminology.concept_map.changed.v1"
    topic: ClassVar[str] = TERMINOLOGY_TOPIC
    subject_field: ClassVar[str] = "source_system"

    source_system: str
    url: str
    version: str = ""
    target_system: str | None = None
    change: ChangeKind
    changed_source_codes: tuple[str, ...] = ()
    all_changed: bool = False


# --- batch translate API (projections) -------------------------------------------------


class SourceCode(BaseModel):
    """A code to translate: its system (a FHIR URI or an OMOP ``vocabulary_id``) and code."""

    model_config = ConfigDict(frozen=True)

    system: str = Field(min_length=1)
    code: str = Field(min_length=1)


class TranslateBatchRequest(BaseModel):
    """Many codes in one call; ``max 10,000`` per request."""

    model_config = ConfigDict(frozen=True)

    codes: tuple[SourceCode, ...] = Field(max_length=10_000)
    include_value_maps: bool = False
    """Also return OMOP ``Maps to value`` targets (the value part of a pre-coordinated code)."""


class MappedConcept(BaseModel):
    """A standard OMOP concept a source code maps to."""

    model_config = ConfigDict(frozen=True)

    concept_id: int
    concept_code: str
    vocabulary_id: str
    domain_id: str
    display: str
    relationship: Literal["Maps to", "Maps to value", "self", "ConceptMap"] = "Maps to"


class TranslateResult(BaseModel):
    """The translation of one source code, in request order.

    ``status``: ``mapped`` (targets found), ``unmapped`` (a known code without a standard
    target: the projection writes concept id 0), ``unknown-code``, ``unknown-system``.
    """

    model_config = ConfigDict(frozen=True)

    system: str
    code: str
    status: Literal["mapped", "unmapped", "unknown-code", "unknown-system"]
    source_concept_id: int | None = None
    targets: tuple[MappedConcept, ...] = ()


class TranslateBatchResponse(BaseModel):
    """The answer of a batch translate, stamped with the release that produced it."""

    model_config = ConfigDict(frozen=True)

    release_id: int | None
    release_label: str | None = None
    results: tuple[TranslateResult, ...]
