"""FHIR terminology operations on the conformance vocabulary (vocab-synthea27nj).

Every expected value below is read from the conformance files (CONCEPT.csv and the
closed part of CONCEPT_RELATIONSHIP.csv)."""

from __future__ import annotations

import pytest

from hygie_contracts.terminology import TranslateBatchResponse

from .conftest import VOCAB

pytestmark = pytest.mark.skipif(not VOCAB.is_dir(), reason="conformance data absent")

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OMOP = "https://fhir-terminology.ohdsi.org"


def param(body, name):
    return [p for p in body["parameter"] if p["name"] == name]


def props(body):
    out = {}
    for p in param(body, "property"):
        code = p["part"][0]["valueCode"]
        value = next(v for k, v in p["part"][1].items() if k.startswith("value"))
        out.setdefault(code, []).append(value)
    return out


async def test_lookup_gives_display_and_omop_properties(loaded):
    r = await loaded.client.get(
        "/fhir/CodeSystem/$lookup",
        params={"system": LOINC, "code": "8480-6"},
        headers=loaded.auth("clinician"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert param(body, "display")[0]["valueString"] == "Systolic blood pressure"
    p = props(body)
    assert p["concept_id"] == [3004249]
    assert p["domain_id"] == ["Measurement"]
    assert p["standard_concept"] == ["S"]
    assert p["inactive"] == [False]


async def test_lookup_gives_parents_and_children(loaded):
    r = await loaded.client.post(
        "/fhir/CodeSystem/$lookup",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": SNOMED, "code": "82423001"}}
            ],
        },
        headers=loaded.auth("analyst"),
    )
    assert r.status_code == 200, r.text
    p = props(r.json())
    assert "22253000" in p["parent"]  # Chronic pain is a Pain
    assert {"1121000119107", "203082005"} <= set(p["child"])


async def test_lookup_of_an_unknown_code_is_404_and_an_unknown_system_400(loaded):
    h = loaded.auth("clinician")
    r = await loaded.client.get(
        "/fhir/CodeSystem/$lookup", params={"system": LOINC, "code": "0000-0"}, headers=h
    )
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    assert r.json()["issue"][0]["code"] == "not-found"
    r = await loaded.client.get(
        "/fhir/CodeSystem/$lookup",
        params={"system": "http://example.org/x", "code": "1"},
        headers=h,
    )
    assert r.status_code == 400
    assert "http://example.org/x" in r.json()["issue"][0]["diagnostics"]
    r = await loaded.client.get("/fhir/CodeSystem/$lookup", params={"system": LOINC}, headers=h)
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["code"]


async def test_lookup_needs_a_token(loaded):
    r = await loaded.client.get(
        "/fhir/CodeSystem/$lookup", params={"system": LOINC, "code": "8480-6"}
    )
    assert r.status_code == 401
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_validate_code_checks_code_and_display(loaded):
    h = loaded.auth("integration")
    ok = await loaded.client.get(
        "/fhir/CodeSystem/$validate-code",
        params={"url": LOINC, "code": "8867-4", "display": "Heart rate"},
        headers=h,
    )
    assert param(ok.json(), "result")[0]["valueBoolean"] is True
    wrong = await loaded.client.get(
        "/fhir/CodeSystem/$validate-code",
        params={"url": LOINC, "code": "8867-4", "display": "Heart beat"},
        headers=h,
    )
    assert param(wrong.json(), "result")[0]["valueBoolean"] is False
    assert "Heart rate" in param(wrong.json(), "message")[0]["valueString"]
    unknown = await loaded.client.get(
        "/fhir/CodeSystem/$validate-code", params={"url": LOINC, "code": "0000-0"}, headers=h
    )
    assert param(unknown.json(), "result")[0]["valueBoolean"] is False


async def test_subsumes_follows_the_is_a_hierarchy(loaded):
    h = loaded.auth("clinician")

    async def outcome(a, b):
        r = await loaded.client.get(
            "/fhir/CodeSystem/$subsumes",
            params={"system": SNOMED, "codeA": a, "codeB": b},
            headers=h,
        )
        assert r.status_code == 200, r.text
        return r.json()["parameter"][0]["valueCode"]

    # Chronic neck pain -> Chronic pain -> Pain
    assert await outcome("22253000", "1121000119107") == "subsumes"
    assert await outcome("1121000119107", "22253000") == "subsumed-by"
    assert await outcome("22253000", "22253000") == "equivalent"
    assert await outcome("22253000", "44054006") == "not-subsumed"


async def test_translate_follows_omop_maps_to(loaded):
    h = loaded.auth("clinician")
    r = await loaded.client.get(
        "/fhir/ConceptMap/$translate", params={"system": UCUM, "code": "mg/d"}, headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert param(body, "result")[0]["valueBoolean"] is True
    concept = param(body, "match")[0]["part"][1]["valueCoding"]
    assert concept == {"system": OMOP, "code": "8909", "display": "milligram per 24 hours"}
    r = await loaded.client.get(
        "/fhir/ConceptMap/$translate",
        params={"system": UCUM, "code": "mg/d", "targetsystem": UCUM},
        headers=h,
    )
    assert param(r.json(), "match")[0]["part"][1]["valueCoding"]["code"] == "mg/(24.h)"


async def test_expand_an_implicit_is_a_value_set_with_paging_and_text_filter(loaded):
    h = loaded.auth("clinician")
    url = f"{SNOMED}?fhir_vs=isa/22253000"
    r = await loaded.client.get("/fhir/ValueSet/$expand", params={"url": url}, headers=h)
    assert r.status_code == 200, r.text
    exp = r.json()["expansion"]
    codes = [c["code"] for c in exp["contains"]]
    assert sorted(codes) == ["1121000119107", "203082005", "22253000", "82423001", "95417003"]
    assert exp["total"] == 5
    page = await loaded.client.get(
        "/fhir/ValueSet/$expand", params={"url": url, "count": 2, "offset": 2}, headers=h
    )
    assert page.json()["expansion"]["total"] == 5
    assert [c["code"] for c in page.json()["expansion"]["contains"]] == sorted(codes)[2:4]
    text = await loaded.client.get(
        "/fhir/ValueSet/$expand", params={"url": url, "filter": "neck"}, headers=h
    )
    assert [c["code"] for c in text.json()["expansion"]["contains"]] == ["1121000119107"]


async def test_expand_an_inline_compose_with_filters_and_excludes(loaded):
    value_set = {
        "resourceType": "ValueSet",
        "compose": {
            "include": [
                {
                    "system": OMOP,
                    "filter": [
                        {"property": "domain_id", "op": "=", "value": "Visit"},
                        {"property": "vocabulary_id", "op": "=", "value": "Visit"},
                    ],
                }
            ],
            "exclude": [{"system": OMOP, "concept": [{"code": "9203"}]}],
        },
    }
    r = await loaded.client.post(
        "/fhir/ValueSet/$expand",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "valueSet", "resource": value_set}],
        },
        headers=loaded.auth("clinician"),
    )
    assert r.status_code == 200, r.text
    contains = r.json()["expansion"]["contains"]
    assert [(c["code"], c["display"]) for c in contains] == [
        ("9201", "Inpatient Visit"),
        ("9202", "Outpatient Visit"),
    ]


async def test_value_set_validate_code(loaded):
    h = loaded.auth("clinician")
    url = f"{SNOMED}?fhir_vs=isa/22253000"
    inside = await loaded.client.get(
        "/fhir/ValueSet/$validate-code",
        params={"url": url, "system": SNOMED, "code": "203082005"},
        headers=h,
    )
    assert param(inside.json(), "result")[0]["valueBoolean"] is True
    outside = await loaded.client.get(
        "/fhir/ValueSet/$validate-code",
        params={"url": url, "system": SNOMED, "code": "44054006"},
        headers=h,
    )
    assert param(outside.json(), "result")[0]["valueBoolean"] is False


async def test_batch_translate_for_the_projection(loaded):
    codes = [
        {"system": LOINC, "code": "8480-6"},
        # Prediabetes (U): its "Maps to" 4311629 is not in the shard's CONCEPT.csv (dropped)
        {"system": "SNOMED", "code": "15777000"},
        {"system": OMOP, "code": "8700"},  # UCUM mg/d
        {"system": LOINC, "code": "0000-0"},
        {"system": "http://example.org/x", "code": "1"},
    ]
    r = await loaded.client.post(
        "/fhir/$translate-batch", json={"codes": codes}, headers=loaded.auth("integration")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    TranslateBatchResponse.model_validate(body)  # the shared contract of the projection
    assert body["release_id"] == loaded.load_result.release_id
    results = body["results"]
    assert [x["status"] for x in results] == [
        "mapped",
        "unmapped",
        "mapped",
        "unknown-code",
        "unknown-system",
    ]
    assert results[0]["source_concept_id"] == 3004249
    assert [t["concept_id"] for t in results[0]["targets"]] == [3004249]
    assert results[0]["targets"][0]["domain_id"] == "Measurement"
    assert results[1]["source_concept_id"] == 40316773
    assert results[1]["targets"] == []
    assert [t["concept_id"] for t in results[2]["targets"]] == [8909]


async def test_batch_translate_refuses_a_malformed_request(loaded):
    r = await loaded.client.post(
        "/fhir/$translate-batch", json={"codes": [{"system": ""}]}, headers=loaded.auth("admin")
    )
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


async def test_reverse_translate_follows_omop_mapped_from(loaded):
    r = await loaded.client.get(
        "/fhir/ConceptMap/$translate",
        params={"system": UCUM, "code": "mg/(24.h)", "reverse": "true"},
        headers=loaded.auth("clinician"),
    )
    assert r.status_code == 200, r.text
    sources = [m["part"][1]["valueCoding"]["code"] for m in param(r.json(), "match")]
    assert "mg/d" in sources  # CONCEPT_RELATIONSHIP: 8909 "Mapped from" 8700
