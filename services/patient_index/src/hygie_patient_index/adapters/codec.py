"""Rows ↔ domain objects: traits as JSON, normalised keys as columns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from ..domain.blocking import blocking_keys
from ..domain.golden import GoldenRecord
from ..domain.identity import Address, Identifier, Sex, SourceRecord, Telecom, Traits
from ..domain.ins import Ins
from ..domain.normalise import core_key, normalise_name, phonetic_fr
from ..domain.rniv import IdentityStatus

__all__ = [
    "golden_from_row",
    "golden_snapshot",
    "source_from_row",
    "source_values",
    "traits_from_json",
    "traits_to_json",
]


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def traits_to_json(t: Traits) -> dict[str, Any]:
    return {
        "birth_family_name": t.birth_family_name,
        "birth_given_names": list(t.birth_given_names),
        "used_family_name": t.used_family_name,
        "used_given_name": t.used_given_name,
        "sex": t.sex.value,
        "birth_date": t.birth_date.isoformat() if t.birth_date else None,
        "birth_place_code": t.birth_place_code,
        "death_date": t.death_date.isoformat() if t.death_date else None,
        "addresses": [
            {
                "lines": list(a.lines),
                "city": a.city,
                "postal_code": a.postal_code,
                "country": a.country,
                "use": a.use,
            }
            for a in t.addresses
        ],
        "telecoms": [{"system": x.system, "value": x.value, "use": x.use} for x in t.telecoms],
    }


def traits_from_json(j: Mapping[str, Any]) -> Traits:
    return Traits(
        birth_family_name=j.get("birth_family_name"),
        birth_given_names=tuple(j.get("birth_given_names") or ()),
        used_family_name=j.get("used_family_name"),
        used_given_name=j.get("used_given_name"),
        sex=Sex(j.get("sex") or "unknown"),
        birth_date=_d(j.get("birth_date")),
        birth_place_code=j.get("birth_place_code"),
        death_date=_d(j.get("death_date")),
        addresses=tuple(
            Address(
                lines=tuple(a.get("lines") or ()),
                city=a.get("city"),
                postal_code=a.get("postal_code"),
                country=a.get("country"),
                use=a.get("use"),
            )
            for a in j.get("addresses") or ()
        ),
        telecoms=tuple(
            Telecom(system=x["system"], value=x["value"], use=x.get("use"))
            for x in j.get("telecoms") or ()
        ),
    )


def _search_text(names: list[str | None]) -> str:
    """Normalised names separated by spaces, each token and each whole name searchable."""
    parts = []
    for name in names:
        norm = normalise_name(name)
        if norm:
            parts.append(norm)
            parts.append(norm.replace(" ", ""))
    return " " + " ".join(parts) + " " if parts else ""


def source_values(r: SourceRecord, *, block_keys: list[str] | None = None) -> dict[str, Any]:
    """Column values of a source record (without created_at); ``block_keys`` when they
    are already computed."""
    t = r.traits
    family = [t.birth_family_name, t.used_family_name]
    first = core_key(t.first_given_name)
    return {
        "id": r.id,
        "system": r.identifier.system,
        "value": r.identifier.value,
        "golden_id": r.golden_id,
        "active": r.active,
        "replaced_by": r.replaced_by,
        "status": r.status.value,
        "validation_date": r.validation_date,
        "ins_matricule": r.ins.matricule if r.ins else None,
        "ins_oid": r.ins.oid if r.ins else None,
        "billing_nir": r.billing_nir,
        "traits": traits_to_json(t),
        "other_identifiers": [{"system": i.system, "value": i.value} for i in r.other_identifiers],
        "version": r.version,
        "family_phon": sorted({phonetic_fr(n) for n in family if n and phonetic_fr(n)}),
        "family_search": _search_text(family),
        "given_search": _search_text([*t.birth_given_names, t.used_given_name]),
        "first_given_phon": phonetic_fr(t.first_given_name) or None,
        "first_initial": first[:1] or None,
        "birth_date": t.birth_date,
        "birth_year": t.birth_date.year if t.birth_date else None,
        "sex": t.sex.value,
        "birth_place_code": t.birth_place_code,
        "postal_code": t.postal_code,
        "block_keys": blocking_keys(r) if block_keys is None else block_keys,
        "updated_at": r.updated_at,
    }


def source_from_row(row: Mapping[str, Any]) -> SourceRecord:
    ins = Ins(row["ins_matricule"], row["ins_oid"]) if row["ins_matricule"] else None
    return SourceRecord(
        id=row["id"],
        identifier=Identifier(row["system"], row["value"]),
        traits=traits_from_json(row["traits"]),
        status=IdentityStatus(row["status"]),
        other_identifiers=tuple(
            Identifier(i["system"], i["value"]) for i in row["other_identifiers"]
        ),
        ins=ins,
        billing_nir=row["billing_nir"],
        validation_date=row["validation_date"],
        active=row["active"],
        replaced_by=row["replaced_by"],
        golden_id=row["golden_id"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


def golden_snapshot(g: GoldenRecord) -> dict[str, Any]:
    return {
        "traits": traits_to_json(g.traits),
        "ins": {"matricule": g.ins.matricule, "oid": g.ins.oid} if g.ins else None,
        "identifiers": [{"system": i.system, "value": i.value} for i in g.identifiers],
        "source_ids": [str(s) for s in g.source_ids],
    }


def golden_from_row(row: Mapping[str, Any]) -> GoldenRecord:
    snap = row["snapshot"]
    ins = snap.get("ins")
    return GoldenRecord(
        id=row["id"],
        traits=traits_from_json(snap["traits"]),
        status=IdentityStatus(row["status"]),
        ins=Ins(ins["matricule"], ins["oid"]) if ins else None,
        identifiers=tuple(Identifier(i["system"], i["value"]) for i in snap["identifiers"]),
        source_ids=tuple(UUID(s) for s in snap.get("source_ids", ())),
        active=row["active"],
        replaced_by=row["replaced_by"],
        record_of_truth=row["record_of_truth"],
        version=row["version"],
        updated_at=row["updated_at"],
    )
