"""An erased EHR (``hygie.ehr.ehr.erased.v1``) leaves nothing in the research view: its
rows, their lineage and ids, its held state — live, and in a generation rebuilt from the
topics (which still hold its commits before the erasure)."""

from __future__ import annotations

from uuid import uuid4

from hygie_omop_projection.testing import (
    blood_pressure,
    committed,
    composition,
    death_summary,
    erased,
    lab_result,
    problem,
    quantity,
    registered,
)
from hygie_platform.testing import eventually

IPP = "urn:oid:1.2.250.1.71.4.2.7"
MAY, JAN = "2024-05-01T09:00:00Z", "2023-01-10T09:00:00Z"


async def _count(svc, sql: str) -> int:
    return (await svc.fetch(sql))[0]["n"]


async def _serving(svc) -> str:
    (row,) = await svc.fetch("SELECT schema_name FROM omop_generation WHERE state = 'serving'")
    return row["schema_name"]


async def test_an_erased_ehr_leaves_no_row_lineage_or_id_live_and_after_a_rebuild(omop, publish):
    patient, kept_ehr, erased_ehr = uuid4(), uuid4(), uuid4()
    gone = [uuid4(), uuid4(), uuid4()]
    await publish(
        registered(patient, ipp="ER-1"),
        committed(kept_ehr, composition(blood_pressure(120, 80, when=MAY), start=MAY, end=None),
                  subject=(IPP, "ER-1")),
        committed(erased_ehr, composition(blood_pressure(150, 95, when=JAN), start=JAN, end=None),
                  voi=gone[0], subject=(IPP, "ER-1")),
        committed(erased_ehr, composition(lab_result([("2345-7", quantity(95, "mg/dL"))]),
                                          problem("ICD10", "X99.9")),  # unmapped: a problem row
                  voi=gone[1], subject=(IPP, "ER-1")),
        committed(erased_ehr, composition(death_summary("2024-06-01T00:00:00Z")), voi=gone[2],
                  subject=(IPP, "ER-1")),
    )  # fmt: skip
    await eventually(lambda: omop.fetch("SELECT 1 FROM omop.death"))
    await eventually(lambda: omop.fetch("SELECT 1 FROM omop.measurement HAVING count(*) = 5"))
    assert await omop.fetch("SELECT 1 FROM omop_g1.problem") != []
    (period,) = await omop.fetch("SELECT * FROM omop.observation_period")
    assert str(period["observation_period_start_date"]) == "2023-01-10"
    keys = "SELECT count(*) AS n FROM omop_id_map WHERE key LIKE ANY(CAST(:p AS text[]))"
    patterns = [f"{v}|%" for v in gone]
    assert (await omop.fetch(keys, p=patterns))[0]["n"] > 0

    await publish(erased(erased_ehr, subject=(IPP, "ER-1")))

    async def erased_live():
        return await _count(omop, "SELECT count(*) AS n FROM omop.measurement") == 2 or None

    await eventually(erased_live)
    schema = await _serving(omop)
    assert await omop.fetch("SELECT * FROM omop.death") == []  # no index death date either
    assert await _count(omop, "SELECT count(*) AS n FROM omop.condition_occurrence") == 0
    assert await _count(omop, "SELECT count(*) AS n FROM omop.visit_occurrence") == 1
    lineage = await omop.fetch(f"SELECT DISTINCT ehr_id FROM {schema}.lineage")
    assert [r["ehr_id"] for r in lineage] == [kept_ehr]
    assert await omop.fetch(f"SELECT 1 FROM {schema}.problem") == []
    assert await omop.fetch(f"SELECT 1 FROM {schema}.composition WHERE ehr_id = :e",
                            e=erased_ehr) == []  # fmt: skip
    assert await omop.fetch(f"SELECT 1 FROM {schema}.ehr WHERE ehr_id = :e", e=erased_ehr) == []
    assert (await omop.fetch(keys, p=patterns))[0]["n"] == 0
    (period,) = await omop.fetch("SELECT * FROM omop.observation_period")
    assert str(period["observation_period_start_date"]) == "2024-05-01"  # recomputed
    journal = await omop.fetch(
        "SELECT data FROM journal WHERE event_type = 'hygie.omop.row.changed.v1'"
    )
    deletes = [j["data"] for j in journal if j["data"]["op"] == "delete"]
    assert {d["table"] for d in deletes} >= {"measurement", "visit_occurrence", "death"}
    kept = await omop.fetch("SELECT measurement_id FROM omop.measurement ORDER BY 1")

    # a rebuild replays the commits, then the erasure: the same result, no id left behind
    admin = omop.auth("admin")
    assert (await omop.client.post("/omop/rebuild", headers=admin)).status_code == 202

    async def swapped():
        status = (await omop.client.get("/omop/status", headers=admin)).json()
        return status if status["serving"] == 2 and status["building"] is None else None

    await eventually(swapped, timeout=60)
    assert await omop.fetch("SELECT measurement_id FROM omop.measurement ORDER BY 1") == kept
    assert await omop.fetch("SELECT * FROM omop.death") == []
    schema = await _serving(omop)
    assert [r["ehr_id"] for r in await omop.fetch(f"SELECT DISTINCT ehr_id FROM {schema}.lineage")
            ] == [kept_ehr]  # fmt: skip
    assert (await omop.fetch(keys, p=patterns))[0]["n"] == 0
