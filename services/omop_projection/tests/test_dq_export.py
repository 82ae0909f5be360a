"""DQD checks over the projected rows, and consistent CSV snapshot exports."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest

from hygie_omop_projection.bootstrap import spec_with
from hygie_omop_projection.service.dq import render_html
from hygie_omop_projection.service.export import export_csv
from hygie_omop_projection.testing import (
    blood_pressure,
    committed,
    composition,
    problem,
    registered,
)
from hygie_platform.testing import eventually, start_service

from .conftest import KEY

DQD = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "omop" / "dqd"
IPP = "urn:oid:1.2.250.1.71.4.2.7"

pytestmark = pytest.mark.skipif(not DQD.exists(), reason="../shared/conformance absent")


@pytest.fixture
async def omop_dq(hygie_settings, translator):
    spec = spec_with(translator=translator, key=KEY, dq_definitions=DQD)
    async with start_service(spec, hygie_settings) as svc:
        try:
            yield svc
        finally:
            await svc.runtime.app.state.generations.stop()


async def test_dq_reports_pass_rates_and_the_implausible_rows(omop_dq, publish, tmp_path):
    svc = omop_dq
    patient, ehr = uuid4(), uuid4()
    await publish(
        registered(patient, ipp="DQ", birth=date(1990, 1, 1)),
        # a diagnosis whose onset is before the birth: plausibleAfterBirth must flag it
        committed(
            ehr,
            composition(blood_pressure(120, 80), problem("ICD10", "E11.9", onset="1980-01-01")),
            subject=(IPP, "DQ"),
        ),
    )  # fmt: skip
    await eventually(lambda: svc.fetch("SELECT 1 FROM omop.condition_occurrence"))
    await eventually(lambda: svc.fetch("SELECT 1 FROM omop.observation_period"))

    answer = await svc.client.post(
        "/omop/dq", params={"run_date": "2025-01-01"}, headers=svc.auth("analyst")
    )
    assert answer.status_code == 200
    report = answer.json()
    assert report["run_date"] == "2025-01-01"
    results = report["results"]
    after_birth = [
        r for r in results
        if r["check"] == "plausibleAfterBirth" and r["field"] == "condition_start_date"
    ]  # fmt: skip
    assert [(r["status"], r["violated"]) for r in after_birth] == [("failed", 1)]
    required = {
        (r["table"], r["field"]): r["status"] for r in results if r["check"] == "isRequired"
    }
    assert required[("measurement", "measurement_concept_id")] == "passed"
    assert required[("person", "year_of_birth")] == "passed"
    assert all(r["status"] == "passed" for r in results if r["check"] == "isPrimaryKey")
    fk = [r for r in results if r["check"] == "isForeignKey" and r["field"] == "person_id"]
    assert fk
    assert all(r["status"] == "passed" for r in fk)
    summary = report["summary"]
    assert summary["failed"] >= 1
    assert summary["pass_rate"] < 1
    assert summary["pass_rate"] > 0
    assert "Plausibility" in summary["by_category"]
    assert "plausibleAfterBirth" in render_html(report)

    manifest = await export_csv(svc.runtime.engine, "omop_g1", tmp_path)
    assert manifest["rows"]["measurement"] == 2
    assert manifest["rows"]["person"] == 1
    with (tmp_path / "measurement.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["measurement_concept_id"] for r in rows} == {"3004249", "3012888"}
    assert "person_source_value" in (tmp_path / "person.csv").read_text().splitlines()[0]
