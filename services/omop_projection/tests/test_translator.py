"""The terminology adapter: batch translate over HTTP, and a table from OMOP CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from hygie_omop_projection.adapters.translator import HttpTranslator, from_omop_csv
from hygie_omop_projection.domain.mapper import Concept

VOCAB = (
    Path(__file__).resolve().parents[4] / "shared" / "conformance" / "omop" / "vocab-synthea27nj"
)


async def test_batch_translate_reads_standard_targets_and_skips_unknown_systems():
    seen = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["body"] = json.loads(request.content)
        seen["auth"] = request.headers.get("authorization")
        systolic = {
            "concept_id": 3004249, "concept_code": "8480-6", "vocabulary_id": "LOINC",
            "domain_id": "Measurement", "display": "Systolic", "relationship": "self",
        }  # fmt: skip
        results = [
            {"system": "LOINC", "code": "8480-6", "status": "mapped",
             "source_concept_id": 3004249, "targets": [systolic]},
            {"system": "ICD10", "code": "X", "status": "unmapped", "source_concept_id": 45},
            {"system": "nope", "code": "1", "status": "unknown-system"},
        ]  # fmt: skip
        by_code = {r["code"]: r for r in results}
        ordered = [by_code[c["code"]] for c in seen["body"]["codes"]]  # answers in request order
        return httpx.Response(200, json={"release_id": 1, "results": ordered})

    translator = HttpTranslator(
        "http://terminology", token=lambda: "t0k", transport=httpx.MockTransport(answer)
    )
    found = await translator.translate([("LOINC", "8480-6"), ("ICD10", "X"), ("nope", "1")])
    assert sorted(c["code"] for c in seen["body"]["codes"]) == ["1", "8480-6", "X"]
    assert seen["auth"] == "Bearer t0k"
    assert found == {("LOINC", "8480-6"): Concept(3004249, 3004249), ("ICD10", "X"): Concept(0, 45)}


async def test_an_unreachable_terminology_service_leaves_codes_untranslated():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    translator = HttpTranslator("http://terminology", transport=httpx.MockTransport(down))
    assert await translator.translate([("LOINC", "8480-6")]) == {}


@pytest.mark.skipif(not VOCAB.exists(), reason="../shared/conformance absent")
async def test_table_from_an_omop_vocabulary_export():
    table = from_omop_csv(VOCAB / "CONCEPT.csv", VOCAB / "CONCEPT_RELATIONSHIP.csv")
    found = await table.translate([("LOINC", "8480-6"), ("UCUM", "mm[Hg]"), ("LOINC", "none")])
    assert found == {
        ("LOINC", "8480-6"): Concept(3004249, 3004249),
        ("UCUM", "mm[Hg]"): Concept(8876, 8876),
    }
