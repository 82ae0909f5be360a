"""ConceptMap/$closure: a client's closure table grows with the concepts it sends, and
each call answers only the subsumption entries that are new (FHIR R4)."""

from __future__ import annotations

import pytest

from .conftest import VOCAB

pytestmark = pytest.mark.skipif(not VOCAB.is_dir(), reason="conformance data absent")

SNOMED = "http://snomed.info/sct"


def _params(name: str, *codes: str, version: int | None = None) -> dict:
    parameter = [{"name": "name", "valueString": name}]
    parameter += [{"name": "concept", "valueCoding": {"system": SNOMED, "code": c}} for c in codes]
    if version is not None:
        parameter.append({"name": "version", "valueString": str(version)})
    return {"resourceType": "Parameters", "parameter": parameter}


def _pairs(concept_map: dict) -> list[tuple[str, str]]:
    return [
        (element["code"], target["code"])
        for group in concept_map.get("group", [])
        for element in group["element"]
        for target in element["target"]
    ]


async def test_closure_table_answers_new_subsumptions_only(loaded):
    h = loaded.auth("clinician")

    async def call(body: dict) -> dict:
        r = await loaded.client.post("/fhir/ConceptMap/$closure", json=body, headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    init = await call(_params("ui-1"))
    assert init["resourceType"] == "ConceptMap"
    assert _pairs(init) == []
    # Chronic pain (1121000119107) is a Pain (22253000); 44054006 is not (as in the $subsumes test).
    first = await call(_params("ui-1", "1121000119107", "44054006"))
    assert _pairs(first) == []
    second = await call(_params("ui-1", "22253000"))
    assert _pairs(second) == [("1121000119107", "22253000")]
    assert second["group"][0]["element"][0]["target"][0]["equivalence"] == "subsumes"
    assert await call(_params("ui-1", "22253000")) == {**second, "group": []}  # nothing new
    replay = await call(_params("ui-1", version=0))
    assert _pairs(replay) == [("1121000119107", "22253000")]


async def test_closure_refuses_an_unknown_table_or_code(loaded):
    h = loaded.auth("clinician")
    r = await loaded.client.post(
        "/fhir/ConceptMap/$closure", json=_params("never-made", version=0), headers=h
    )
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    await loaded.client.post("/fhir/ConceptMap/$closure", json=_params("ui-2"), headers=h)
    r = await loaded.client.post(
        "/fhir/ConceptMap/$closure", json=_params("ui-2", "no-such-code"), headers=h
    )
    assert r.status_code == 404
    r = await loaded.client.post(
        "/fhir/ConceptMap/$closure", json={"resourceType": "Parameters"}, headers=h
    )
    assert r.status_code == 400
