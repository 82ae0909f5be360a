"""Ingest events → source-record drafts (the same rules as the FHIR API then apply)."""

from __future__ import annotations

from uuid import UUID

from hygie_contracts.patient import PatientRecorded

from ..domain.errors import InvalidIdentity, Issue
from ..domain.identity import Address, Identifier, Sex, SourceRecord, Telecom, Traits
from ..domain.ins import Ins, InvalidNir
from ..domain.rniv import IdentityStatus

__all__ = ["draft_from_event"]


def draft_from_event(e: PatientRecorded) -> SourceRecord:
    ins = None
    if e.ins is not None:
        try:
            ins = Ins(e.ins.matricule, e.ins.oid)
        except InvalidNir as exc:
            raise InvalidIdentity([Issue("ins", exc.rule, str(exc))]) from None
    traits = Traits(
        birth_family_name=e.birth_family_name,
        birth_given_names=tuple(e.birth_given_names),
        used_family_name=e.used_family_name,
        used_given_name=e.used_given_name,
        sex=Sex(e.sex),
        birth_date=e.birth_date,
        birth_place_code=e.birth_place_code,
        death_date=e.death_date,
        addresses=tuple(
            Address(
                lines=a.lines, city=a.city, postal_code=a.postal_code, country=a.country, use=a.use
            )
            for a in e.addresses
        ),
        telecoms=tuple(Telecom(system=t.system, value=t.value, use=t.use) for t in e.telecoms),
    )
    return SourceRecord(
        id=UUID(int=0),
        identifier=Identifier(e.identifier.system, e.identifier.value),
        other_identifiers=tuple(Identifier(i.system, i.value) for i in e.other_identifiers),
        traits=traits,
        status=IdentityStatus(e.identity_status),
        ins=ins,
        billing_nir=e.billing_nir,
        validation_date=e.validation_date,
        active=e.active,
    )
