"""Builders of identities (domain records and FR Core FHIR Patients) for tests of the
patient index and of the services that use it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from hygie_patient_index.domain.identity import Address, Identifier, Sex, SourceRecord, Traits
from hygie_patient_index.domain.ins import Ins, nir_key
from hygie_patient_index.domain.rniv import IdentityStatus

IPP_A = "urn:oid:1.2.250.1.999.1.1"
IPP_B = "urn:oid:1.2.250.1.999.2.1"
INS_NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"


def nir(body: str = "2850575056048") -> str:
    """A valid NIR for a 13-character body."""
    return body + f"{nir_key(body):02d}"


def traits(**kw: object) -> Traits:
    base: dict[str, object] = {
        "birth_family_name": "Dupont",
        "birth_given_names": ("Marie", "Claire"),
        "sex": Sex.FEMALE,
        "birth_date": date(1985, 5, 12),
        "birth_place_code": "75056",
        "addresses": (Address(lines=("1 rue de la Paix",), city="Paris", postal_code="75002"),),
    }
    base.update(kw)
    return Traits(**base)  # type: ignore[arg-type]


def record(
    value: str = "A1",
    system: str = IPP_A,
    *,
    status: IdentityStatus = IdentityStatus.PROV,
    ins: str | None = None,
    updated: datetime | None = None,
    **kw: object,
) -> SourceRecord:
    return SourceRecord(
        id=uuid4(),
        identifier=Identifier(system, value),
        traits=traits(**kw),
        status=status,
        ins=Ins(ins, "1.2.250.1.213.1.4.8") if ins else None,
        updated_at=updated or datetime.now(UTC),
    )


FR_CORE = "https://hl7.fr/ig/fhir/core/StructureDefinition/"


def fhir_patient(
    value: str = "A1",
    system: str = IPP_A,
    *,
    family: str = "Dupont",
    given: tuple[str, ...] = ("Marie", "Claire"),
    gender: str = "female",
    birth_date: str = "1985-05-12",
    status: str | None = None,
    ins: str | None = None,
    insee: str | None = "75056",
    **extra: object,
) -> dict[str, object]:
    """A FR Core-shaped FHIR Patient."""
    identifiers: list[dict[str, object]] = [{"system": system, "value": value}]
    if ins:
        identifiers.append(
            {
                "system": INS_NIR_SYSTEM,
                "value": ins,
                "type": {
                    "coding": [
                        {
                            "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                            "code": "INS-NIR",
                        }
                    ]
                },
            }
        )
    body: dict[str, object] = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "name": [{"use": "official", "family": family, "given": list(given)}],
        "gender": gender,
        "birthDate": birth_date,
        "address": [{"line": ["1 rue de la Paix"], "city": "Paris", "postalCode": "75002"}],
    }
    ext: list[dict[str, object]] = []
    if status:
        ext.append(
            {
                "url": FR_CORE + "fr-core-identity-reliability",
                "extension": [{"url": "identityStatus", "valueCoding": {"code": status}}],
            }
        )
    if insee:
        ext.append(
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {
                    "extension": [
                        {
                            "url": FR_CORE + "fr-core-address-insee-code",
                            "valueCoding": {"code": insee},
                        }
                    ]
                },
            }
        )
    if ext:
        body["extension"] = ext
    body.update(extra)
    return body
