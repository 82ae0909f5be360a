"""Loading the conformance OMOP vocabulary (comma-separated, ISO dates, a shard whose
relationships are not closed) as a release."""

from __future__ import annotations

import pytest

from hygie_terminology.domain.errors import ReleaseRejected
from hygie_terminology.service.loading import load_omop_release

from .conftest import VOCAB, service_dsn

pytestmark = pytest.mark.skipif(not VOCAB.is_dir(), reason="conformance data absent")


async def test_the_conformance_vocabulary_loads_as_the_active_release(loaded):
    result = loaded.load_result
    assert result.activated
    assert result.dialect == "comma"
    # SOURCES.md: 2,294 concepts; 5,178 of 266,588 relationships have both ends in CONCEPT.
    assert result.counts["concept"] == 2294
    assert result.counts["concept_relationship"] == 5178
    by_vocab = {v["vocabulary_id"]: v["concept_count"] for v in result.vocabularies}
    assert by_vocab == {
        "Ethnicity": 2,
        "LOINC": 300,
        "RxNorm": 246,
        "SNOMED": 701,
        "UCUM": 1042,
        "Visit": 3,
    }
    assert result.label == "v5.0 09-APR-22*"
    warnings = [p for p in result.problems if p.severity == "warning"]
    assert any(p.file == "CONCEPT_RELATIONSHIP.csv" and "dropped" in p.reason for p in warnings)
    rows = await loaded.fetch("SELECT status, label FROM release ORDER BY id")
    assert rows == [{"status": "active", "label": "v5.0 09-APR-22*"}]
    # "" in the comma variant is an empty value, stored as NULL.
    nulls = await loaded.fetch(
        "SELECT count(*) AS n FROM omop_r1.concept WHERE standard_concept IS NULL"
    )
    assert nulls == [{"n": 2294 - 2178}]  # 2,178 rows of CONCEPT.csv are standard ("S")


async def test_an_open_shard_is_refused_when_dangling_relationships_are_not_dropped(terminology):
    with pytest.raises(ReleaseRejected) as caught:
        await load_omop_release(
            uow=terminology.runtime.app.state.uow,
            dsn=service_dsn(terminology),
            directory=VOCAB,
            accepted_licences=["SNOMED"],
        )
    problems = caught.value.problems
    where = {(p.file, p.line): p.reason for p in problems}
    # Line 2: 4304917 -> 40487785 (only 4304917 is in CONCEPT.csv); line 3: 21143345 -> ...
    assert where["CONCEPT_RELATIONSHIP.csv", 2] == (
        "concept_id_2 40487785 is not a concept of CONCEPT.csv"
    )
    assert where["CONCEPT_RELATIONSHIP.csv", 3] == (
        "concept_id_1 21143345 is not a concept of CONCEPT.csv"
    )
    rows = await terminology.fetch("SELECT status, schema_name FROM release")
    assert rows[0]["status"] == "rejected"
    schemas = await terminology.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname = :s", s=rows[0]["schema_name"]
    )
    assert schemas == []  # nothing of a rejected release remains


async def test_snomed_is_loaded_only_when_its_licence_is_confirmed(terminology):
    with pytest.raises(ReleaseRejected) as caught:
        await load_omop_release(
            uow=terminology.runtime.app.state.uow,
            dsn=service_dsn(terminology),
            directory=VOCAB,
            dangling="drop",
        )
    reasons = [p.reason for p in caught.value.problems]
    assert any("SNOMED needs a licence" in r and "--accept-licence" in r for r in reasons)
