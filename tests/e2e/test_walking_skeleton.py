"""The platform's walking skeleton, on the real broker and database:
HTTP create → journal → Kafka → consumer → its database, with one trace id."""

from __future__ import annotations

import os

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hygie_audit.bootstrap import SPEC as AUDIT
from hygie_ehr.bootstrap import SPEC as EHR
from hygie_platform.telemetry import add_span_processor
from hygie_platform.testing import eventually, start_service

TRACE_ID = os.urandom(16).hex()
TRACEPARENT = f"00-{TRACE_ID}-{os.urandom(8).hex()}-01"


async def test_ehr_created_reaches_audit_in_one_trace(hygie_settings):
    spans = InMemorySpanExporter()
    async with (
        start_service(EHR, hygie_settings) as ehr,
        start_service(AUDIT, hygie_settings) as audit,
    ):
        add_span_processor(SimpleSpanProcessor(spans))
        body = {
            "_type": "EHR_STATUS",
            "subject": {"external_ref": {"id": {"value": "IPP-000123"}, "namespace": "ipp.site-a"}},
            "is_queryable": True,
            "is_modifiable": True,
        }
        resp = await ehr.client.post(
            "/openehr/v1/ehr",
            json=body,
            headers={
                **ehr.auth("clinician"),
                "traceparent": TRACEPARENT,
                "Prefer": "return=representation",
            },
        )
        assert resp.status_code == 201, resp.text
        ehr_id = resp.json()["ehr_id"]["value"]
        assert resp.headers["x-trace-id"] == TRACE_ID

        rows = await eventually(
            lambda: audit.fetch("SELECT * FROM audit_entry WHERE subject = :s", s=ehr_id)
        )
        assert rows[0]["source_event_type"] == "hygie.ehr.ehr.created.v1"
        assert rows[0]["patient"] == "ipp.site-a|IPP-000123"
        assert rows[0]["trace_id"] == TRACE_ID

        names = await eventually(lambda: _span_names(spans))
        assert {
            "journal.append",
            "publish hygie.ehr.ehr.created.v1",
            "process hygie.ehr.ehr.created.v1",
            "POST /openehr/v1/ehr",
        } <= names

        got = await ehr.client.get(f"/openehr/v1/ehr/{ehr_id}", headers=ehr.auth("clinician"))
        assert got.status_code == 200
        assert got.json()["ehr_status"]["subject"]["external_ref"]["id"]["value"] == "IPP-000123"


async def _span_names(exporter: InMemorySpanExporter) -> set[str] | None:
    ours = {
        s.name
        for s in exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == TRACE_ID
    }
    return ours if "process hygie.ehr.ehr.created.v1" in ours else None
