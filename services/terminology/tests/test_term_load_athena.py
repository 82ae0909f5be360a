"""Loading Athena's own format, and what the loader does with bad input: it reports each
problem with file, line and reason, loads nothing of the release, and the active release
keeps serving."""

from __future__ import annotations

import pytest

from hygie_terminology.domain.errors import ReleaseRejected
from hygie_terminology.service.loading import load_omop_release

from .athena_files import CONCEPTS, write_vocabulary
from .conftest import service_dsn


async def _load(svc, directory, **kw):
    return await load_omop_release(
        uow=svc.runtime.app.state.uow,
        dsn=service_dsn(svc),
        directory=directory,
        accepted_licences=["SNOMED"],
        **kw,
    )


async def _lookup(svc, system, code):
    return await svc.client.get(
        "/fhir/CodeSystem/$lookup", params={"system": system, "code": code}, headers=svc.auth()
    )


async def test_athena_tab_files_with_compact_dates_load(terminology, tmp_path):
    result = await _load(terminology, write_vocabulary(tmp_path / "v1"))
    assert result.dialect == "tab"
    assert result.label == "test-v1"
    assert result.counts["concept"] == 6
    assert result.counts["concept_ancestor"] == 3
    rows = await terminology.fetch(
        "SELECT concept_name, valid_start_date::text AS d FROM omop_r1.concept "
        "WHERE concept_id = 82423001"
    )
    # Quotes are data in Athena files; YYYYMMDD is read as a date.
    assert rows == [{"concept_name": 'Chronic "pain"', "d": "2002-01-31"}]
    r = await terminology.client.get(
        "/fhir/CodeSystem/$subsumes",
        params={"system": "http://snomed.info/sct", "codeA": "22253000", "codeB": "82423001"},
        headers=terminology.auth(),
    )
    assert r.json()["parameter"][0]["valueCode"] == "subsumes"  # from CONCEPT_ANCESTOR


async def test_a_new_release_replaces_the_active_one_and_the_old_stays_queryable(
    terminology, tmp_path
):
    first = await _load(terminology, write_vocabulary(tmp_path / "v1"))
    renamed = [c.replace("Heart rate", "Heart rate (v2)") for c in CONCEPTS]
    second = await _load(
        terminology, write_vocabulary(tmp_path / "v2", concepts=renamed), label="v2"
    )
    current = await _lookup(terminology, "http://loinc.org", "8867-4")
    assert current.json()["parameter"][2]["valueString"] == "Heart rate (v2)"
    old = await terminology.client.get(
        "/fhir/CodeSystem/$lookup",
        params={"system": "http://loinc.org", "code": "8867-4", "release": str(first.release_id)},
        headers=terminology.auth(),
    )
    assert old.json()["parameter"][2]["valueString"] == "Heart rate"
    rows = await terminology.fetch("SELECT id, status FROM release ORDER BY id")
    assert rows == [
        {"id": first.release_id, "status": "superseded"},
        {"id": second.release_id, "status": "active"},
    ]
    events = await terminology.fetch("SELECT event_type, event_key, data FROM journal ORDER BY seq")
    assert [e["event_type"] for e in events] == ["hygie.terminology.release.activated.v1"] * 2
    assert events[1]["event_key"] == "https://fhir-terminology.ohdsi.org"
    assert events[1]["data"]["previous_release_id"] == first.release_id


@pytest.mark.parametrize(
    ("concepts", "line", "reason"),
    [
        (
            [
                *CONCEPTS[:2],
                "3025315\tBody weight\tMeasurement\tLOINC\tClinical Observation\tS"
                "\t29463-7\t2099-13-45\t20991231\t",
                *CONCEPTS[2:],
            ],
            4,
            "column valid_start_date",
        ),
        (
            [*CONCEPTS, "3004249\tDuplicate\tMeasurement\tLOINC\tX\tS\t1\t19700101\t20991231\t"],
            8,
            "concept_id 3004249 repeats line 2",
        ),
        ([*CONCEPTS, "3025315\tBody weight\tMeasurement"], 8, "missing data"),
        (
            [
                *CONCEPTS,
                "3025315\tBody weight\tMeasurement\tLOINC\tX\tZ\t29463-7\t19700101\t20991231\t",
            ],
            8,
            "standard_concept must be S, C or empty",
        ),
    ],
)
async def test_a_bad_row_rejects_the_release_and_the_active_one_keeps_serving(
    terminology, tmp_path, concepts, line, reason
):
    await _load(terminology, write_vocabulary(tmp_path / "good"))
    with pytest.raises(ReleaseRejected) as caught:
        await _load(terminology, write_vocabulary(tmp_path / "bad", concepts=concepts))
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == ("CONCEPT.csv", line)
    assert reason in problem.reason
    assert (await _lookup(terminology, "http://loinc.org", "8480-6")).status_code == 200
    rows = await terminology.fetch("SELECT status FROM release ORDER BY id")
    assert [r["status"] for r in rows] == ["active", "rejected"]


async def test_a_relationship_to_an_unknown_concept_is_reported_by_line(terminology, tmp_path):
    rels = ["8700\t8909\tMaps to\t19700101\t20991231\t", "8700\t999\tMaps to\t19700101\t20991231\t"]
    with pytest.raises(ReleaseRejected) as caught:
        await _load(terminology, write_vocabulary(tmp_path / "v", relationships=rels))
    p = caught.value.problems[0]
    assert (p.file, p.line) == ("CONCEPT_RELATIONSHIP.csv", 3)
    assert p.reason == "concept_id_2 999 is not a concept of CONCEPT.csv"


async def test_a_missing_file_is_reported_before_anything_is_loaded(terminology, tmp_path):
    with pytest.raises(ReleaseRejected) as caught:
        await _load(terminology, write_vocabulary(tmp_path / "v", skip=("CONCEPT_ANCESTOR.csv",)))
    assert caught.value.problems[0].file == "CONCEPT_ANCESTOR.csv"
    assert await terminology.fetch("SELECT id FROM release") == []
