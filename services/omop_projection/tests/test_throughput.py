"""Throughput of a generation on compositions of the mapped archetypes (slow; the full
benchmark with 1,000,000 events belongs in bench/)."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest

from hygie_omop_projection.testing import (
    blood_pressure,
    committed,
    composition,
    lab_result,
    problem,
    quantity,
    registered,
)
from hygie_platform.testing import eventually

IPP = "urn:oid:1.2.250.1.71.4.2.7"


@pytest.mark.slow
async def test_live_throughput(omop, publish):
    patients, per_patient = 50, 40
    events = []
    for n in range(patients):
        events.append(registered(uuid4(), ipp=f"P{n}"))
        ehr = uuid4()
        for k in range(per_patient):
            body = composition(
                blood_pressure(100 + k % 50, 60 + k % 30),
                lab_result([("2345-7", quantity(90 + k % 40, "mg/dL"))]),
                problem("ICD10", "E11.9"),
            )
            events.append(committed(ehr, body, subject=(IPP, f"P{n}")))
    started = time.perf_counter()
    await publish(*events)
    expected = patients * per_patient * 3

    async def done():
        found = await omop.fetch("SELECT count(*) AS n FROM omop.measurement")
        return found[0]["n"] >= expected or None

    await eventually(done, timeout=300, interval=0.2)
    live = len(events) / (time.perf_counter() - started)
    admin = omop.auth("admin")
    assert (await omop.client.post("/omop/rebuild", headers=admin)).status_code == 202

    async def rebuilt():
        found = await omop.fetch(
            "SELECT data FROM journal WHERE event_type = 'hygie.omop.rebuild.completed.v1'"
        )
        return found[0]["data"] if found else None

    report = await eventually(rebuilt, timeout=300, interval=0.2)
    rate = report["events_applied"] / report["seconds"]
    print(f"\n{len(events)} events: live {live:.0f}/s (send included), rebuild {rate:.0f}/s")
    assert await omop.fetch("SELECT count(*) AS n FROM omop.measurement") == [{"n": expected}]
