"""The identity model: source records (one per local identifier) and their traits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from .ins import Ins
from .rniv import STRICT_TRAITS, IdentityStatus

__all__ = [
    "Address",
    "Identifier",
    "Sex",
    "SourceRecord",
    "Telecom",
    "Traits",
]


class Sex(StrEnum):
    """Administrative gender (FHIR ``AdministrativeGender``)."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Identifier:
    """A local identifier in an assigning authority (e.g. the IPP of a facility)."""

    system: str
    value: str

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...] = ()
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    use: str | None = None


@dataclass(frozen=True, slots=True)
class Telecom:
    system: str
    value: str
    use: str | None = None


@dataclass(frozen=True, slots=True)
class Traits:
    """What a source system knows of a person. Names are kept as received."""

    birth_family_name: str | None = None
    birth_given_names: tuple[str, ...] = ()
    """All birth given names, in order; the first one is ``first_given_name``."""
    used_family_name: str | None = None
    used_given_name: str | None = None
    sex: Sex = Sex.UNKNOWN
    birth_date: date | None = None
    birth_place_code: str | None = None
    """INSEE code of the birth commune, or 99xxx (INSEE country code) for births abroad."""
    death_date: date | None = None
    addresses: tuple[Address, ...] = ()
    telecoms: tuple[Telecom, ...] = ()

    @property
    def first_given_name(self) -> str | None:
        return self.birth_given_names[0] if self.birth_given_names else self.used_given_name

    def strict_differs(self, other: Traits) -> bool:
        """True when a strict RNIV trait differs between two versions."""
        return any(getattr(self, name) != getattr(other, name) for name in STRICT_TRAITS)

    @property
    def postal_code(self) -> str | None:
        for address in self.addresses:
            if address.postal_code:
                return address.postal_code
        return None


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One identity as a source system holds it, linked to one golden record."""

    id: UUID
    identifier: Identifier
    traits: Traits
    status: IdentityStatus = IdentityStatus.PROV
    other_identifiers: tuple[Identifier, ...] = ()
    ins: Ins | None = None
    billing_nir: str | None = None
    validation_date: date | None = None
    active: bool = True
    replaced_by: UUID | None = None
    golden_id: UUID | None = None
    version: int = 1
    updated_at: datetime | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def identifiers(self) -> tuple[Identifier, ...]:
        """The primary local identifier first, then the others."""
        return (self.identifier, *self.other_identifiers)

    @property
    def shareable_ins(self) -> Ins | None:
        """The INS when it may travel (QUAL identities only, RNIV)."""
        return self.ins if self.ins is not None and self.status is IdentityStatus.QUAL else None

    @property
    def trusted_ins(self) -> Ins | None:
        """The INS when it came from INSi (RECUP or QUAL): deterministic matching uses it."""
        return self.ins if self.ins is not None and self.status.retrieved else None

    def evolve(self, **changes: object) -> SourceRecord:
        return replace(self, **changes)  # type: ignore[arg-type]
