"""Golden and source records → FHIR Patient (FR Core INS representation)."""

from __future__ import annotations

from typing import Any

from ...domain.golden import GoldenRecord
from ...domain.identity import Identifier, SourceRecord, Traits
from ...domain.ins import Ins
from ...domain.rniv import IdentityStatus
from .urls import (
    BIRTH_LIST_GIVEN_NAME,
    BIRTH_PLACE,
    IDENTIFIER_TYPE_CS,
    IDENTITY_RELIABILITY,
    INS_TYPE,
    INSEE_CODE,
    INSEE_CS,
    MPI_SYSTEM,
    MPI_TAG_SYSTEM,
    RELIABILITY_CS,
)

__all__ = ["golden_resource", "source_resource"]


def _ins_identifier(ins: Ins) -> dict[str, Any]:
    code = INS_TYPE[ins.kind]
    return {
        "use": "official",
        "system": ins.system,
        "value": ins.matricule,
        "type": {"coding": [{"system": IDENTIFIER_TYPE_CS, "code": code}]},
    }


def _local(i: Identifier) -> dict[str, Any]:
    return {"use": "usual", "system": i.system, "value": i.value}


def _traits(t: Traits, status: IdentityStatus) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = []
    if t.birth_family_name or t.birth_given_names:
        official: dict[str, Any] = {
            "use": "official",
            "family": t.birth_family_name,
            "given": list(t.birth_given_names[:1]),
        }
        if t.birth_given_names:
            official["extension"] = [
                {"url": BIRTH_LIST_GIVEN_NAME, "valueString": " ".join(t.birth_given_names)}
            ]
        names.append({k: v for k, v in official.items() if v})
    if t.used_family_name or t.used_given_name:
        usual = {
            "use": "usual",
            "family": t.used_family_name,
            "given": [t.used_given_name] if t.used_given_name else None,
        }
        names.append({k: v for k, v in usual.items() if v})
    if names:
        out["name"] = names
    out["gender"] = t.sex.value
    if t.birth_date:
        out["birthDate"] = t.birth_date.isoformat()
    if t.death_date:
        out["deceasedDateTime"] = t.death_date.isoformat()
    if t.addresses:
        out["address"] = [
            {
                k: v
                for k, v in {
                    "use": a.use,
                    "line": list(a.lines) or None,
                    "city": a.city,
                    "postalCode": a.postal_code,
                    "country": a.country,
                }.items()
                if v
            }
            for a in t.addresses
        ]
    if t.telecoms:
        out["telecom"] = [
            {k: v for k, v in {"system": x.system, "value": x.value, "use": x.use}.items() if v}
            for x in t.telecoms
        ]
    ext: list[dict[str, Any]] = [
        {
            "url": IDENTITY_RELIABILITY,
            "extension": [
                {
                    "url": "identityStatus",
                    "valueCoding": {"system": RELIABILITY_CS, "code": status.value},
                }
            ],
        }
    ]
    if t.birth_place_code:
        ext.append(
            {
                "url": BIRTH_PLACE,
                "valueAddress": {
                    "extension": [
                        {
                            "url": INSEE_CODE,
                            "valueCoding": {"system": INSEE_CS, "code": t.birth_place_code},
                        }
                    ]
                },
            }
        )
    out["extension"] = ext
    return out


def _meta(kind: str, version: int, updated: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "versionId": str(version),
        "tag": [{"system": MPI_TAG_SYSTEM, "code": kind}],
    }
    if updated is not None:
        meta["lastUpdated"] = updated.isoformat()
    return meta


def golden_resource(g: GoldenRecord) -> dict[str, Any]:
    """The master patient: every identifier of its sources, the INS when QUAL."""
    identifiers = [{"use": "official", "system": MPI_SYSTEM, "value": str(g.id)}]
    if g.shareable_ins:
        identifiers.append(_ins_identifier(g.shareable_ins))
    identifiers += [_local(i) for i in g.identifiers]
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(g.id),
        "meta": _meta("golden-record", g.version, g.updated_at),
        "identifier": identifiers,
        "active": g.active,
        **_traits(g.traits, g.status),
    }
    if g.replaced_by:
        body["link"] = [{"other": {"reference": f"Patient/{g.replaced_by}"}, "type": "replaced-by"}]
    elif g.source_ids:
        body["link"] = [
            {"other": {"reference": f"Patient/{s}"}, "type": "seealso"} for s in g.source_ids
        ]
    return body


def source_resource(s: SourceRecord) -> dict[str, Any]:
    """One source system's view; ``link refer`` points at its master patient."""
    identifiers = [_local(i) for i in s.identifiers]
    if s.shareable_ins:
        identifiers.insert(0, _ins_identifier(s.shareable_ins))
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(s.id),
        "meta": _meta("source-record", s.version, s.updated_at),
        "identifier": identifiers,
        "active": s.active,
        **_traits(s.traits, s.status),
    }
    if s.golden_id:
        body["link"] = [{"other": {"reference": f"Patient/{s.golden_id}"}, "type": "refer"}]
    return body
