"""FHIR CodeSystem, ValueSet and ConceptMap resources: load (all or nothing), operations on
them, explicit maps to OMOP concepts in $translate and batch translate, change events."""

from __future__ import annotations

import pytest

from hygie_contracts.terminology import TranslateBatchResponse

from .conftest import VOCAB

pytestmark = pytest.mark.skipif(not VOCAB.is_dir(), reason="conformance data absent")

LOCAL = "urn:hygie:test:lab"
OMOP = "https://fhir-terminology.ohdsi.org"

CODE_SYSTEM = {
    "resourceType": "CodeSystem",
    "id": "local-lab",
    "url": LOCAL,
    "version": "1",
    "name": "LocalLab",
    "status": "active",
    "content": "complete",
    "concept": [
        {
            "code": "VITALS",
            "display": "Signes vitaux",
            "concept": [
                {
                    "code": "PAS",
                    "display": "Pression artérielle systolique",
                    "designation": [{"language": "en", "value": "Systolic blood pressure"}],
                },
                {"code": "FC", "display": "Fréquence cardiaque"},
            ],
        },
        {"code": "DIVERS", "display": "Divers"},
    ],
}


def concept_map(targets):
    return {
        "resourceType": "ConceptMap",
        "id": "local-lab-to-omop",
        "url": "urn:hygie:test:lab-to-omop",
        "version": "1",
        "status": "active",
        "group": [
            {
                "source": LOCAL,
                "target": OMOP,
                "element": [
                    {"code": code, "target": [{"code": target, "equivalence": "equivalent"}]}
                    for code, target in targets
                ],
            }
        ],
    }


VALUE_SET = {
    "resourceType": "ValueSet",
    "id": "vitals",
    "url": "urn:hygie:test:vs:vitals",
    "status": "active",
    "compose": {
        "include": [
            {
                "system": LOCAL,
                "filter": [{"property": "concept", "op": "descendent-of", "value": "VITALS"}],
            }
        ]
    },
}


async def _post(svc, document):
    return await svc.client.post("/terminology/resources", json=document, headers=svc.auth("admin"))


async def test_resources_load_and_answer_the_operations(loaded):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": CODE_SYSTEM},
            {"resource": VALUE_SET},
            # Local codes to the OMOP concepts of LOINC 8480-6 and 8867-4 (CONCEPT.csv).
            {"resource": concept_map([("PAS", "3004249"), ("FC", "3027018")])},
        ],
    }
    r = await _post(loaded, bundle)
    assert r.status_code == 200, r.text
    h = loaded.auth("clinician")

    lookup = await loaded.client.get(
        "/fhir/CodeSystem/$lookup", params={"system": LOCAL, "code": "PAS"}, headers=h
    )
    body = lookup.json()
    assert body["parameter"][2] == {
        "name": "display",
        "valueString": "Pression artérielle systolique",
    }
    assert {
        "name": "designation",
        "part": [
            {"name": "language", "valueCode": "en"},
            {"name": "value", "valueString": "Systolic blood pressure"},
        ],
    } in (body["parameter"])
    sub = await loaded.client.get(
        "/fhir/CodeSystem/$subsumes",
        params={"system": LOCAL, "codeA": "VITALS", "codeB": "FC"},
        headers=h,
    )
    assert sub.json()["parameter"][0]["valueCode"] == "subsumes"

    exp = await loaded.client.get(
        "/fhir/ValueSet/$expand", params={"url": "urn:hygie:test:vs:vitals"}, headers=h
    )
    assert [c["code"] for c in exp.json()["expansion"]["contains"]] == ["FC", "PAS"]

    tr = await loaded.client.get(
        "/fhir/ConceptMap/$translate", params={"system": LOCAL, "code": "PAS"}, headers=h
    )
    match = next(p for p in tr.json()["parameter"] if p["name"] == "match")
    assert match["part"][1]["valueCoding"] == {"system": OMOP, "code": "3004249"}

    batch = await loaded.client.post(
        "/fhir/$translate-batch",
        json={
            "codes": [
                {"system": LOCAL, "code": "FC"},
                {"system": LOCAL, "code": "DIVERS"},
                {"system": LOCAL, "code": "NOPE"},
            ]
        },
        headers=h,
    )
    TranslateBatchResponse.model_validate(batch.json())
    results = batch.json()["results"]
    assert [x["status"] for x in results] == ["mapped", "unmapped", "unknown-code"]
    assert results[0]["targets"][0]["concept_id"] == 3027018
    assert results[0]["targets"][0]["relationship"] == "ConceptMap"

    read = await loaded.client.get("/fhir/ConceptMap/local-lab-to-omop", headers=h)
    assert read.json()["url"] == "urn:hygie:test:lab-to-omop"
    search = await loaded.client.get("/fhir/CodeSystem", params={"url": LOCAL}, headers=h)
    assert search.json()["total"] == 1

    events = await loaded.fetch(
        "SELECT event_type, event_key, data FROM journal WHERE event_type LIKE "
        "'hygie.terminology.%changed.v1' ORDER BY seq"
    )
    assert [(e["event_type"], e["event_key"]) for e in events] == [
        ("hygie.terminology.code_system.changed.v1", LOCAL),
        ("hygie.terminology.value_set.changed.v1", "urn:hygie:test:vs:vitals"),
        ("hygie.terminology.concept_map.changed.v1", LOCAL),
    ]
    assert events[2]["data"]["changed_source_codes"] == ["FC", "PAS"]

    # A new version of the map: only the source code whose target changed is announced.
    r = await _post(loaded, concept_map([("PAS", "3004249"), ("FC", "3012888")]))
    assert r.status_code == 200, r.text
    last = await loaded.fetch(
        "SELECT data FROM journal WHERE event_type = 'hygie.terminology.concept_map.changed.v1' "
        "ORDER BY seq DESC LIMIT 1"
    )
    assert last[0]["data"]["changed_source_codes"] == ["FC"]
    assert last[0]["data"]["change"] == "replaced"


async def test_a_concept_map_naming_an_unknown_code_system_loads_nothing(loaded):
    bad = concept_map([("X", "3004249")]) | {"url": "urn:hygie:test:bad", "id": "bad"}
    bad["group"][0]["source"] = "urn:hygie:test:nowhere"
    r = await _post(
        loaded,
        {
            "resourceType": "Bundle",
            "entry": [
                {"resource": VALUE_SET | {"url": "urn:hygie:test:vs:other", "id": "other"}},
                {"resource": bad},
            ],
        },
    )
    assert r.status_code == 422
    issues = r.json()["issue"]
    assert any("urn:hygie:test:nowhere is not known" in i["diagnostics"] for i in issues)
    stored = await loaded.fetch(
        "SELECT url FROM fhir_resource "
        "WHERE url IN ('urn:hygie:test:bad', 'urn:hygie:test:vs:other')"
    )
    assert stored == []


async def test_a_concept_map_to_a_missing_omop_concept_is_refused(loaded):
    r = await _post(loaded, concept_map([("PAS", "123456789")]) | {"url": "urn:x", "id": "x"})
    assert r.status_code == 422
    assert "123456789" in r.text


async def test_loading_resources_needs_the_admin_role(loaded):
    r = await loaded.client.post(
        "/terminology/resources", json=CODE_SYSTEM, headers=loaded.auth("clinician")
    )
    assert r.status_code == 403


async def test_a_value_set_may_include_other_value_sets(loaded):
    h = loaded.auth("admin")
    await _post(loaded, CODE_SYSTEM)
    await _post(loaded, VALUE_SET)
    composite = {
        "resourceType": "ValueSet",
        "compose": {
            "include": [
                {"valueSet": ["urn:hygie:test:vs:vitals"]},
                {"system": "http://loinc.org", "concept": [{"code": "8480-6"}]},
            ],
            "exclude": [{"system": LOCAL, "concept": [{"code": "FC"}]}],
        },
    }
    r = await loaded.client.post(
        "/fhir/ValueSet/$expand",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "valueSet", "resource": composite}],
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    got = [(c["system"], c["code"]) for c in r.json()["expansion"]["contains"]]
    assert got == [("http://loinc.org", "8480-6"), (LOCAL, "PAS")]


async def test_lookup_selects_properties_and_display_language(loaded):
    await _post(loaded, CODE_SYSTEM)
    r = await loaded.client.get(
        "/fhir/CodeSystem/$lookup",
        params={"system": LOCAL, "code": "PAS", "property": "parent", "displayLanguage": "en"},
        headers=loaded.auth("clinician"),
    )
    body = r.json()["parameter"]
    assert {"name": "display", "valueString": "Systolic blood pressure"} in body
    props = [p["part"][0]["valueCode"] for p in body if p["name"] == "property"]
    assert props == ["parent"]
