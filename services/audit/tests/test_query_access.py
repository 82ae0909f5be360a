"""A query is one access event on the topic (``hygie.access.query.executed.v1``); the log
keeps one BALP PatientQuery record per patient it names, so each patient's access report
shows it, and one record without patient for aggregates or over-long patient lists."""

from __future__ import annotations

from audit_support import NOW, SPEC, entries, send

from hygie_contracts.access import QueryExecuted
from hygie_platform.access import patients_digest
from hygie_platform.testing import start_service


async def test_one_query_event_gives_a_record_per_patient_and_one_for_an_aggregate(
    hygie_settings,
):
    patients = ("ipp|Q1", "ipp|Q2", "ipp|Q3")
    digest = patients_digest(f"p|{i}" for i in range(20_000))
    listed, counted = await send(
        hygie_settings,
        QueryExecuted(
            agent="dr-q",
            roles=("clinician",),
            resource="Query/aql",
            query="SELECT c FROM EHR e CONTAINS COMPOSITION c",
            patients=patients,
            patient_count=3,
            rows=7,
            purpose="TREAT",
            occurred_at=NOW,
        ),
        QueryExecuted(
            agent="analyst-a",
            resource="Query/aql",
            query="SELECT COUNT(*) FROM COMPOSITION c",
            patient_count=20_000,
            patients_digest=digest,
            rows=1,
            occurred_at=NOW,
        ),
    )
    async with start_service(SPEC, hygie_settings) as audit:
        rows = await entries(audit, 4)
        by_patient = {r["patient"]: r for r in rows}
        assert set(by_patient) == {*patients, None}
        assert {r["source_event_type"] for r in rows} == {"hygie.access.query.executed.v1"}
        assert len({r["event_id"] for r in rows}) == 4
        assert by_patient[None]["event_id"] == counted.id
        assert listed.id not in {r["event_id"] for r in rows}  # derived per patient
        body = bytes(by_patient[None]["body"]).decode()
        assert '"valueString":"20000"' in body
        assert digest in body
        url = "/audit/patients/ipp|Q2/access-report"
        report = (await audit.client.get(url, headers=audit.auth("integration"))).json()
        assert report["accesses"] == 1
        assert report["entries"][0]["action"] == "query"
        assert report["entries"][0]["purpose"] == ["TREAT"]
