"""Golden records (master patients) and the survivorship rules that build their traits.

Survivorship, per trait group:
- strict traits (birth names, given names, birth date, sex, birth place) come *as a block*
  from the most trusted source: the record of truth if one is set, else the highest RNIV
  status (QUAL > RECUP = VALI > PROV), then the most recently updated — so that they stay
  coherent with each other and with the INS;
- the INS is the one of that source, shared only when it is QUAL;
- the other traits (used names, death date, addresses, telecoms) come, each, from the most
  recently updated source that has a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from .identity import Identifier, SourceRecord, Traits
from .ins import Ins
from .rniv import IdentityStatus

__all__ = ["GoldenRecord", "survive"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class GoldenRecord:
    """A master patient: the traits that survived from its linked source records."""

    id: UUID
    traits: Traits
    status: IdentityStatus
    ins: Ins | None
    identifiers: tuple[Identifier, ...]
    source_ids: tuple[UUID, ...] = ()
    active: bool = True
    replaced_by: UUID | None = None
    record_of_truth: UUID | None = None
    version: int = 1
    updated_at: datetime | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def shareable_ins(self) -> Ins | None:
        return self.ins if self.status is IdentityStatus.QUAL else None


def _trust(record: SourceRecord, record_of_truth: UUID | None) -> tuple[bool, int, datetime]:
    return (record.id == record_of_truth, record.status.rank, record.updated_at or _EPOCH)


def survive(
    golden_id: UUID,
    sources: Sequence[SourceRecord],
    *,
    record_of_truth: UUID | None = None,
    version: int = 1,
    active: bool = True,
    replaced_by: UUID | None = None,
) -> GoldenRecord:
    """The golden record built from its active linked sources."""
    live = [s for s in sources if s.active] or list(sources)
    if not live:
        return GoldenRecord(
            golden_id,
            Traits(),
            IdentityStatus.PROV,
            None,
            (),
            (),
            active=active,
            replaced_by=replaced_by,
            record_of_truth=record_of_truth,
            version=version,
        )
    trusted = sorted(live, key=lambda s: _trust(s, record_of_truth), reverse=True)
    best = trusted[0]
    recent = sorted(live, key=lambda s: s.updated_at or _EPOCH, reverse=True)

    def latest(name: str) -> object:
        for s in recent:
            value = getattr(s.traits, name)
            if value:
                return value
        return getattr(best.traits, name)

    b = best.traits
    traits = Traits(
        birth_family_name=b.birth_family_name,
        birth_given_names=b.birth_given_names,
        sex=b.sex,
        birth_date=b.birth_date,
        birth_place_code=b.birth_place_code,
        used_family_name=latest("used_family_name"),  # type: ignore[arg-type]
        used_given_name=latest("used_given_name"),  # type: ignore[arg-type]
        death_date=latest("death_date"),  # type: ignore[arg-type]
        addresses=latest("addresses"),  # type: ignore[arg-type]
        telecoms=latest("telecoms"),  # type: ignore[arg-type]
    )
    identifiers: list[Identifier] = []
    for s in sorted(live, key=lambda s: (s.identifier.system, s.identifier.value)):
        identifiers.extend(i for i in s.identifiers if i not in identifiers)
    return GoldenRecord(
        id=golden_id,
        traits=traits,
        status=best.status,
        ins=best.ins,
        identifiers=tuple(identifiers),
        source_ids=tuple(s.id for s in live),
        active=active,
        replaced_by=replaced_by,
        record_of_truth=record_of_truth,
        version=version,
        updated_at=max((s.updated_at or _EPOCH) for s in live),
    )
