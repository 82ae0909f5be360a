"""The EHR store (its HTTP API, on the session's PostgreSQL and broker) accepts the
project's templates, commits the demo hospital's compositions against them, converts
them to and from FLAT, and refuses broken ones with the offending paths."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from hygie_demo import compositions as C
from hygie_demo.client import ensure_templates
from hygie_demo.hospital import Stay, make_plan, until_of
from hygie_demo.templates import TEMPLATES, shipped_opts

from hygie_ehr.bootstrap import SPEC
from hygie_platform.testing import RunningService, start_service

API = "/openehr/v1"


@pytest.fixture
async def ehr(hygie_settings) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    async with start_service(SPEC, hygie_settings, background=False) as svc:
        yield svc


async def _ehr_id(svc: RunningService, headers: dict[str, str]) -> str:
    resp = await svc.client.post(
        f"{API}/ehr", headers={**headers, "Prefer": "return=representation"}
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["ehr_id"]["value"])


async def _commit(
    svc: RunningService, ehr_id: str, body: dict[str, Any], headers: dict[str, str]
) -> Any:
    return await svc.client.post(f"{API}/ehr/{ehr_id}/composition", json=body, headers=headers)


def _stay() -> Stay:
    plan = make_plan(patients=6, days=6, seed=3, until=until_of(date(2026, 11, 1)))
    stay = next(s for s in plan.stays if s.discharged and s.vitals and s.labs)
    return stay


async def test_every_template_is_accepted_listed_and_reuploaded_unchanged(
    ehr: RunningService,
) -> None:
    headers = ehr.auth("integration")
    assert await ensure_templates(ehr.client, headers, root=API) == {
        t.template_id: "created" for t in TEMPLATES
    }
    listed = (await ehr.client.get(f"{API}/definition/template/adl1.4", headers=headers)).json()
    by_id = {t["template_id"]: t for t in listed}
    for template in TEMPLATES:
        assert by_id[template.template_id]["archetype_id"] == template.composition.archetype_id
    # identical re-upload: 201, nothing changes; the demo then finds them all
    opt = shipped_opts()["hygie.vital_signs.v1"]
    again = await ehr.client.post(
        f"{API}/definition/template/adl1.4",
        content=opt,
        headers={**headers, "Content-Type": "application/xml"},
    )
    assert again.status_code == 201, again.text
    assert set((await ensure_templates(ehr.client, headers, root=API)).values()) == {"existing"}


async def test_the_demo_compositions_commit_and_read_back_as_flat(ehr: RunningService) -> None:
    headers = ehr.auth("integration")
    await ensure_templates(ehr.client, headers, root=API)
    ehr_id = await _ehr_id(ehr, headers)
    stay = _stay()
    bodies = [
        C.encounter(stay, discharged=False),
        C.vital_signs(stay, 0, weight=71.5),
        C.laboratory(stay, 0),
        C.problem_list(stay),
        C.medication_orders(stay),
    ]
    for body in bodies:
        resp = await _commit(ehr, ehr_id, body, headers)
        assert resp.status_code == 201, resp.text
    # the same uid again: 409, the demo's "already there"
    again = await _commit(ehr, ehr_id, bodies[1], headers)
    assert again.status_code == 409
    # the discharge is a second version of the stay's encounter
    vo_id = bodies[0]["uid"]["value"]
    current = await ehr.client.get(f"{API}/ehr/{ehr_id}/composition/{vo_id}", headers=headers)
    version_uid = current.json()["uid"]["value"]
    update = C.encounter(stay, discharged=True)
    update.pop("uid")
    resp = await ehr.client.put(
        f"{API}/ehr/{ehr_id}/composition/{vo_id}",
        json=update,
        headers={**headers, "If-Match": version_uid},
    )
    assert resp.status_code in (200, 204), resp.text
    # FLAT view of the vital signs: the web template of our OPT names the paths
    flat = await ehr.client.get(
        f"{API}/ehr/{ehr_id}/composition/{bodies[1]['uid']['value']}",
        headers={**headers, "Accept": "application/openehr.wt.flat+json"},
    )
    assert flat.status_code == 200, flat.text
    values = flat.json()
    systolic = stay.vitals[0][1]["systolic"]
    assert values["vital_signs/blood_pressure:0/any_event:0/systolic|magnitude"] == systolic
    assert values["vital_signs/body_weight:0/any_event:0/weight|magnitude"] == 71.5


def _temperature(body: dict[str, Any]) -> dict[str, Any]:
    entry = next(
        e for e in body["content"] if e["archetype_node_id"].endswith("body_temperature.v2")
    )
    return entry["data"]["events"][0]["data"]["items"][0]["value"]  # type: ignore[no-any-return]


async def test_compositions_outside_their_template_are_refused_with_paths(
    ehr: RunningService,
) -> None:
    headers = ehr.auth("integration")
    await ensure_templates(ehr.client, headers, root=API)
    ehr_id = await _ehr_id(ehr, headers)
    stay = _stay()

    too_hot = C.vital_signs(stay, 0)
    _temperature(too_hot)["magnitude"] = 48.0
    wrong_units = C.vital_signs(stay, 1)
    _temperature(wrong_units)["units"] = "[degF]"
    no_test_name = C.laboratory(stay, 0)
    items = no_test_name["content"][0]["data"]["events"][0]["data"]["items"]
    items[:] = [i for i in items if i["archetype_node_id"] != "at0005"]
    foreign_entry = C.problem_list(stay)
    foreign_entry["content"].append(copy.deepcopy(C.medication_orders(stay)["content"][0]))

    cases = [
        (too_hot, "/content[openEHR-EHR-OBSERVATION.body_temperature.v2]", "outside [25..45]"),
        (wrong_units, "items[at0004]/value/units", "[degF]"),
        (no_test_name, "/content[openEHR-EHR-OBSERVATION.laboratory_test_result.v1]", "at0005"),
        (foreign_entry, "/content", "medication_order.v3"),
    ]
    for body, path, words in cases:
        resp = await _commit(ehr, ehr_id, body, headers)
        assert resp.status_code == 422, resp.text
        issues = resp.json()["issues"]
        assert any(path in i["path"] and words in (i["path"] + i["message"]) for i in issues), (
            issues
        )
    listed = await ehr.client.post(
        f"{API}/query/aql",
        json={"q": "SELECT c/uid/value FROM EHR e CONTAINS COMPOSITION c"},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["rows"] == []  # nothing of the refused ones was stored


async def test_a_stay_commits_as_one_contribution_and_a_second_time_conflicts(
    ehr: RunningService,
) -> None:
    from hygie_demo.client import Hygie

    headers = ehr.auth("integration")
    await ensure_templates(ehr.client, headers, root=API)
    ehr_id = await _ehr_id(ehr, headers)
    stay = _stay()
    docs = [C.encounter(stay, discharged=False), C.vital_signs(stay, 0), C.laboratory(stay, 0)]
    hygie = Hygie.__new__(Hygie)  # only its EHR client: the service under test over ASGI
    transport = httpx.ASGITransport(app=ehr.runtime.app)  # type: ignore[arg-type]
    hygie.ehr = httpx.AsyncClient(transport=transport, base_url=f"http://test{API}")
    hygie.headers = headers
    assert await hygie.contribute(ehr_id, docs) == ("created", "")
    assert (await hygie.contribute(ehr_id, docs))[0] == "conflict"
    broken = C.vital_signs(stay, 1)
    broken["content"][2]["data"]["events"][0]["data"]["items"][0]["value"]["magnitude"] = 99.0
    status, detail = await hygie.contribute(ehr_id, [C.vital_signs(stay, 2), broken])
    assert status == "refused"
    assert detail.startswith("422")
    rows = await ehr.client.post(
        f"{API}/query/aql",
        json={"q": "SELECT c/uid/value FROM EHR e CONTAINS COMPOSITION c"},
        headers=headers,
    )
    assert sorted(r[0].split("::")[0] for r in rows.json()["rows"]) == sorted(
        d["uid"]["value"] for d in docs
    )  # all or none: the refused contribution left nothing
    await hygie.ehr.aclose()
