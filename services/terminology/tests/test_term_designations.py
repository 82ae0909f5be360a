"""French and English designations from CONCEPT_SYNONYM, in $lookup and $expand.

A synthetic vocabulary (ids 1-4 are made up for this test, not OMOP concept ids)."""

from __future__ import annotations

from hygie_terminology.service.loading import load_omop_release

from .athena_files import write_vocabulary
from .conftest import service_dsn

SYSTEM = "https://hygie.health/fhir/omop-vocabulary/TEST"


def _concept(cid: str, name: str, vocab: str, code: str) -> str:
    return "\t".join(
        (cid, name, "Observation", vocab, "Test", "S", code, "19700101", "20991231", "")
    )


async def test_synonyms_give_designations_by_language(terminology, tmp_path):
    directory = write_vocabulary(
        tmp_path / "v",
        concepts=[
            _concept("1", "French language", "Language", "fr"),
            _concept("2", "English language", "Language", "en"),
            _concept("3", "Heart rate", "TEST", "HR"),
            _concept("4", "Body weight", "TEST", "BW"),
        ],
        relationships=[],
        ancestors=[],
    )
    (directory / "CONCEPT_SYNONYM.csv").write_text(
        "concept_id\tconcept_synonym_name\tlanguage_concept_id\n"
        "3\tFréquence cardiaque\t1\n3\tPulse rate\t2\n4\tPoids\t1\n",
        encoding="utf-8",
    )
    await load_omop_release(
        uow=terminology.runtime.app.state.uow, dsn=service_dsn(terminology), directory=directory
    )
    h = terminology.auth("clinician")
    r = await terminology.client.get(
        "/fhir/CodeSystem/$lookup", params={"system": SYSTEM, "code": "HR"}, headers=h
    )
    designations = [
        {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in d["part"]}
        for d in r.json()["parameter"]
        if d["name"] == "designation"
    ]
    assert designations == [
        {"language": "fr", "value": "Fréquence cardiaque"},
        {"language": "en", "value": "Pulse rate"},
    ]
    r = await terminology.client.get(
        "/fhir/ValueSet/$expand",
        params={"url": f"{SYSTEM}?fhir_vs", "displayLanguage": "fr-FR"},
        headers=h,
    )
    assert [(c["code"], c["display"]) for c in r.json()["expansion"]["contains"]] == [
        ("BW", "Poids"),
        ("HR", "Fréquence cardiaque"),
    ]
