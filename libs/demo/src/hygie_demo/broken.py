"""Broken input a real hospital also produces, sent on purpose: each must end up
somewhere visible (a 4xx with the reason, the dead-letter topic, the OMOP unmapped
list) and block nothing."""

from __future__ import annotations

from typing import Any

import httpx

from hygie_contracts.patient import InsIdentifier, PatientIdentifier, PatientRecorded

from . import compositions as C
from .client import Hygie
from .hospital import Plan
from .identities import corrupt_nir

__all__ = ["INS_DEMO_OID", "send_broken_input"]

#: the INS authority OID for demonstration identities (Référentiel INS: ...4.11 = DEMO)
INS_DEMO_OID = "1.2.250.1.213.1.4.11"


async def send_broken_input(hygie: Hygie, plan: Plan) -> list[dict[str, Any]]:
    """What a real hospital also sends: each goes somewhere visible, none blocks."""
    out: list[dict[str, Any]] = []
    stay = plan.stays[0]
    reg = stay.registration
    person = reg.identity
    bad_nir = corrupt_nir(person.nir)
    # 1. an INS with a wrong control key typed at the desk, through the FHIR API (ITI-104)
    system, value = reg.site.system, f"ERR{plan.seed:04d}01"
    body = {
        "resourceType": "Patient",
        "identifier": [
            {"system": system, "value": value},
            {
                "system": f"urn:oid:{INS_DEMO_OID}",
                "value": bad_nir,
                "type": {
                    "coding": [
                        {
                            "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                            "code": "INS-NIR",
                        }
                    ]
                },
            },
        ],
        "name": [
            {
                "use": "official",
                "family": person.birth_family_name,
                "given": list(person.given_names),
            }
        ],
        "gender": person.sex,
        "birthDate": person.birth_date.isoformat(),
    }
    resp = await hygie.mpi.put(
        "/fhir/Patient",
        params={"identifier": f"{system}|{value}"},
        json=body,
        headers={**hygie.headers, "Content-Type": "application/fhir+json"},
    )
    out.append(
        {
            "kind": "invalid-nir-api",
            "what": f"INS {bad_nir} (wrong control key) sent with PUT /fhir/Patient",
            "where": f"HTTP {resp.status_code} (FHIR OperationOutcome), nothing stored",
            "detail": _diagnostics(resp),
        }
    )
    # 2. the same mistake on the identity feed: refused by the index, dead-lettered
    ingest = PatientRecorded(
        identifier=PatientIdentifier(system=system, value=f"ERR{plan.seed:04d}02"),
        birth_family_name=person.birth_family_name,
        birth_given_names=person.given_names,
        sex=person.sex,  # type: ignore[arg-type]
        birth_date=person.birth_date,
        ins=InsIdentifier(matricule=bad_nir, oid=INS_DEMO_OID),
        identity_status="QUAL",
    )
    await hygie.record_patient(
        ingest, key=f"broken|{plan.seed}|nir-ingest", source="/hospital/nord/admissions"
    )
    await hygie.flush()
    out.append(
        {
            "kind": "invalid-nir-ingest",
            "what": f"INS {bad_nir} on hygie.ingest.patient.v1 "
            f"(identifier {system}|ERR{plan.seed:04d}02)",
            "where": "hygie.ingest.patient.v1.dlq (hygie dlq list), with the reason",
            "detail": "",
        }
    )
    # 3. a composition outside its template: a temperature of 48 °C (template: 25..45)
    comp = C.vital_signs(stay, 0) if stay.vitals else None
    if comp is not None:
        comp["uid"]["value"] = stay.uid("broken-vitals")
        temp = comp["content"][2]["data"]["events"][0]["data"]["items"][0]["value"]
        temp["magnitude"] = 48.0
        status, detail = await hygie.commit(reg.ehr_id, comp)
        out.append(
            {
                "kind": "composition-violates-template",
                "what": "vital signs with a body temperature of 48 °C "
                "(hygie.vital_signs.v1 allows 25..45 Cel)",
                "where": f"{detail.split(' ', 1)[0] if detail else status} from "
                f"POST /ehr/{reg.ehr_id}/composition, nothing stored",
                "detail": detail[4:] if detail else "",
            }
        )
    # 4. a diagnosis code that exists in no terminology: stored, then reported unmapped by OMOP
    comp = C.problem_list(stay, diagnoses=[("ICD10", "X99.9Z", "Code saisi par erreur")])
    comp["uid"]["value"] = stay.uid("broken-code")
    status, detail = await hygie.commit(reg.ehr_id, comp)
    out.append(
        {
            "kind": "unknown-code",
            "what": "diagnosis coded ICD10 X99.9Z (no such code)",
            "where": f"EHR store: {status} (composition {comp['uid']['value']}); OMOP: concept 0 "
            "and a row of GET /omop/unmapped",
            "detail": detail,
        }
    )
    return out


def _diagnostics(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    issues = body.get("issue") or []
    return "; ".join(
        f"{i.get('diagnostics', '')} ({', '.join(i.get('expression') or [])})" for i in issues
    )[:500]
