"""Domain objects → contract events (the INS only for QUAL identities)."""

from __future__ import annotations

from hygie_contracts.patient import (
    InsIdentifier,
    PatientIdentifier,
    PatientRegistered,
    PatientUpdated,
)

from ..domain.golden import GoldenRecord
from ..domain.identity import Identifier
from ..domain.ins import Ins

__all__ = ["contract_identifier", "contract_ins", "snapshot_event"]


def contract_identifier(i: Identifier) -> PatientIdentifier:
    return PatientIdentifier(system=i.system, value=i.value)


def contract_ins(ins: Ins | None) -> InsIdentifier | None:
    return InsIdentifier(matricule=ins.matricule, oid=ins.oid) if ins else None


def snapshot_event(
    cls: type[PatientRegistered] | type[PatientUpdated], g: GoldenRecord
) -> PatientRegistered | PatientUpdated:
    t = g.traits
    return cls(
        patient_id=g.id,
        version=g.version,
        active=g.active,
        replaced_by=g.replaced_by,
        identifiers=tuple(contract_identifier(i) for i in g.identifiers),
        birth_date=t.birth_date,
        sex=t.sex.value,
        death_date=t.death_date,
        birth_place_code=t.birth_place_code,
        identity_status=g.status.value,
        ins=contract_ins(g.shareable_ins),
    )
