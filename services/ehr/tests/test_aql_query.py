"""AQL over the stored compositions, through ``/openehr/v1/query/aql``: containment, paths
with node predicates, WHERE on magnitudes and dates, ordering, paging, errors."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ehr_support import CONFORMANCE, Client, load_json

from hygie_ehr.bootstrap import SPEC
from hygie_platform.testing import RunningService, start_service

AQL = "/openehr/v1/query/aql"
BP_OPT = CONFORMANCE / "aql" / "data_load" / "opts" / "ehrbase_blood_pressure_simple.de.v0.opt"
BP = load_json(
    CONFORMANCE / "aql" / "data_load" / "compositions" / "ehrbase_blood_pressure_simple.de.v0.json"
)
BP_ARCHETYPE = "openEHR-EHR-OBSERVATION.sample_blood_pressure.v1"
FROM_BP = f"FROM EHR e CONTAINS COMPOSITION c CONTAINS OBSERVATION o[{BP_ARCHETYPE}]"
SYSTOLIC = "o/data[at0001]/events[at0002]/data[at0003]/items[at0004]/value"


@pytest.fixture
async def ehr_service(hygie_settings) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    """The EHR store without its relay and subscribers: queries journal access events
    by the hundred, and publishing them is not what these tests are about."""
    async with start_service(SPEC, hygie_settings, background=False) as svc:
        yield svc


def blood_pressure(systolic: float, start: str) -> dict[str, Any]:
    composition = copy.deepcopy(BP)
    composition["context"]["start_time"]["value"] = start
    event = composition["content"][0]["data"]["events"][0]
    event.setdefault("offset", {"_type": "DV_DURATION", "value": "PT0S"})  # the OPT wants it
    items = event["data"]["items"]
    items[0]["value"]["magnitude"] = systolic
    return composition


async def aql(client: Client, q: str, **extra: Any) -> Any:
    resp = await client.http.post(AQL, json={"q": q, **extra}, headers=client.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def load(client: Client) -> list[str]:
    """Three EHRs: 150 and 120 (two compositions), 135, and one without compositions."""
    await client.upload(BP_OPT)
    ehrs = [await client.new_ehr(f"IPP-{i}") for i in range(3)]
    for ehr_id, systolic, start in (
        (ehrs[0], 150, "2024-01-10T10:00:00+01:00"),
        (ehrs[0], 120, "2024-02-10T10:00:00+01:00"),
        (ehrs[1], 135, "2024-03-10T10:00:00Z"),
    ):
        resp = await client.commit(ehr_id, blood_pressure(systolic, start))
        assert resp.status_code == 201, resp.text
    return ehrs


async def test_select_paths_with_node_predicates_and_the_result_set_shape(client: Client) -> None:
    ehrs = await load(client)
    q = (
        f"SELECT e/ehr_id/value AS ehr, {SYSTOLIC}/magnitude, c/context/start_time/value "
        f"FROM EHR e CONTAINS COMPOSITION c CONTAINS OBSERVATION o[{BP_ARCHETYPE}] "
        "ORDER BY c/context/start_time/value"
    )
    result = await aql(client, q)
    assert result["q"] == q
    meta = result["meta"]
    assert meta["_type"] == "RESULTSET"
    assert meta["resultsize"] == 3
    assert {"_href", "_schema_version", "_created", "_generator", "_executed_aql"} <= set(meta)
    assert result["columns"] == [
        {"name": "ehr", "path": "e/ehr_id/value"},
        {"name": "#1", "path": f"{SYSTOLIC}/magnitude"},
        {"name": "#2", "path": "c/context/start_time/value"},
    ]
    assert result["rows"] == [
        [ehrs[0], 150, "2024-01-10T10:00:00+01:00"],
        [ehrs[0], 120, "2024-02-10T10:00:00+01:00"],
        [ehrs[1], 135, "2024-03-10T10:00:00Z"],
    ]


async def test_where_compares_quantities_by_magnitude_and_dates_as_instants(client: Client) -> None:
    await load(client)

    async def systolics(where: str, **extra: Any) -> list[Any]:
        result = await aql(client, f"SELECT {SYSTOLIC}/magnitude {FROM_BP} WHERE {where}", **extra)
        return sorted(r[0] for r in result["rows"])

    assert await systolics(f"{SYSTOLIC} > 130") == [135, 150]  # DV_QUANTITY by magnitude
    assert await systolics(f"{SYSTOLIC}/magnitude <= 135") == [120, 135]
    assert await systolics(f"{SYSTOLIC}/units = 'mm[Hg]'") == [120, 135, 150]
    # 10:00+01:00 is 09:00Z: compared as instants, not as text
    assert await systolics("c/context/start_time/value < '2024-01-10T09:30:00Z'") == [150]
    assert await systolics("c/context/start_time > '2024-02-01'") == [120, 135]
    assert await systolics(
        f"{SYSTOLIC}/magnitude > $low AND NOT ({SYSTOLIC}/magnitude = $high)",
        query_parameters={"low": 100, "high": 150},
    ) == [120, 135]
    assert await systolics(f"{SYSTOLIC}/magnitude MATCHES {{120, 150}}") == [120, 150]
    assert await systolics(
        f"{SYSTOLIC}/magnitude MATCHES {{$many}}", query_parameters={"many": [135]}
    ) == [135]
    assert await systolics("c/name/value LIKE 'Encounter*'") == [120, 135, 150]
    assert await systolics("c/name/value LIKE 'Enc?unter (training sample)'") == [120, 135, 150]
    assert await systolics("c/name/value LIKE 'Encounter%'") == []  # % is not a wildcard
    assert await systolics(f"EXISTS {SYSTOLIC}/magnitude") == [120, 135, 150]
    assert await systolics(
        "NOT EXISTS o/data[at0001]/events[at0002]/data[at0003]/items[at9999]"
    ) == [120, 135, 150]
    assert await systolics("EXISTS o/data[at0001]/events[at0002]/data[at0003]/items[at9999]") == []


async def test_order_by_a_path_that_is_not_selected_with_limit_and_offset(client: Client) -> None:
    await load(client)
    q = f"SELECT {SYSTOLIC}/magnitude {FROM_BP} ORDER BY c/context/start_time/value DESC"
    assert (await aql(client, q))["rows"] == [[135], [120], [150]]
    assert (await aql(client, q + " LIMIT 1 OFFSET 1"))["rows"] == [[120]]
    paged = await aql(client, q, offset=1, fetch=2)
    assert paged["rows"] == [[120], [150]]
    by_alias = f"SELECT {SYSTOLIC}/magnitude AS s {FROM_BP} ORDER BY s"
    assert (await aql(client, by_alias))["rows"] == [[120], [135], [150]]


async def test_distinct_and_aggregates(client: Client) -> None:
    ehrs = await load(client)
    distinct = await aql(
        client, f"SELECT DISTINCT e/ehr_id/value {FROM_BP} ORDER BY e/ehr_id/value"
    )
    assert distinct["rows"] == [[e] for e in sorted(ehrs[:2])]
    totals = await aql(
        client,
        f"SELECT COUNT(*), COUNT(DISTINCT e/ehr_id/value), MIN({SYSTOLIC}/magnitude), "
        f"MAX({SYSTOLIC}/magnitude), SUM({SYSTOLIC}/magnitude), "
        f"AVG({SYSTOLIC}/magnitude) {FROM_BP}",
    )
    assert totals["rows"] == [[3, 2, 120, 150, 405, 135.0]]
    per_ehr = await aql(
        client,
        f"SELECT e/ehr_id/value AS ehr, MAX({SYSTOLIC}) AS top {FROM_BP} ORDER BY ehr",
    )
    tops = {row[0]: row[1]["magnitude"] for row in per_ehr["rows"]}  # MAX keeps the DV_QUANTITY
    assert tops == {ehrs[0]: 150, ehrs[1]: 135}


async def test_order_by_a_path_not_selected_with_distinct_or_aggregates(client: Client) -> None:
    """Each distinct row (or group) sorts where it first appears in the requested order."""
    ehrs = await load(client)
    q = f"SELECT DISTINCT e/ehr_id/value {FROM_BP} ORDER BY {SYSTOLIC}/magnitude"
    assert (await aql(client, q + " DESC"))["rows"] == [[ehrs[0]], [ehrs[1]]]  # 150 > 135
    assert (await aql(client, q + " ASC"))["rows"] == [[ehrs[0]], [ehrs[1]]]  # 120 < 135
    by_time = await aql(
        client,
        f"SELECT e/ehr_id/value, COUNT(*) {FROM_BP} ORDER BY c/context/start_time/value DESC",
    )
    assert by_time["rows"] == [[ehrs[1], 1], [ehrs[0], 2]]  # March, then February
    by_count = await aql(
        client,
        f"SELECT e/ehr_id/value, MAX({SYSTOLIC}/magnitude) {FROM_BP} ORDER BY COUNT(*) ASC",
    )
    assert by_count["rows"] == [[ehrs[1], 135], [ehrs[0], 150]]


async def test_durations_compare_and_sort_by_length(client: Client) -> None:
    """P2D is longer than PT30M (as text it would sort before it)."""
    ehrs = await load(client)
    long = blood_pressure(99, "2024-04-01T10:00:00Z")
    long["content"][0]["data"]["events"][0]["offset"] = {"_type": "DV_DURATION", "value": "P2D"}
    resp = await client.commit(ehrs[2], long)
    assert resp.status_code == 201, resp.text
    offset = "o/data[at0001]/events[at0002]/offset"
    longer = await aql(client, f"SELECT {SYSTOLIC}/magnitude {FROM_BP} WHERE {offset} > 'PT30M'")
    assert longer["rows"] == [[99]]
    shorter = await aql(
        client, f"SELECT {SYSTOLIC}/magnitude {FROM_BP} WHERE {offset}/value <= 'PT1H'"
    )
    assert sorted(r[0] for r in shorter["rows"]) == [120, 135, 150]
    ordered = await aql(
        client, f"SELECT {offset}/value, {SYSTOLIC}/magnitude {FROM_BP} ORDER BY {offset} DESC"
    )
    assert ordered["rows"][0] == ["P2D", 99]


async def test_ehr_scope_by_predicate_parameter_and_header(client: Client) -> None:
    ehrs = await load(client)
    q = (
        f"SELECT {SYSTOLIC}/magnitude FROM EHR e[ehr_id/value=$ehr_id] "
        f"CONTAINS OBSERVATION o[{BP_ARCHETYPE}]"
    )
    one = await aql(client, q, query_parameters={"ehr_id": ehrs[1]})
    assert one["rows"] == [[135]]
    none = await aql(client, q, query_parameters={"ehr_id": "not-a-uuid"})
    assert none["rows"] == []
    population = (
        f"SELECT {SYSTOLIC}/magnitude FROM OBSERVATION o[{BP_ARCHETYPE}] "
        f"ORDER BY {SYSTOLIC}/magnitude"
    )
    resp = await client.http.post(
        AQL, json={"q": population}, headers={**client.headers, "openEHR-EHR-id": ehrs[0]}
    )
    assert resp.json()["rows"] == [[120], [150]]
    got = await client.http.get(
        AQL,
        params={"q": q.replace("$ehr_id", f"'{ehrs[0]}'") + " ORDER BY o/uid/value"},
        headers=client.headers,
    )
    assert got.status_code == 200, got.text
    assert sorted(r[0] for r in got.json()["rows"]) == [120, 150]
    by_get_param = await client.http.get(
        AQL, params={"q": q, "ehr_id": ehrs[1]}, headers=client.headers
    )
    assert by_get_param.json()["rows"] == [[135]]


async def test_containment_or_and_not_contains(client: Client) -> None:
    await load(client)
    evaluation = "openEHR-EHR-EVALUATION.problem_diagnosis.v1"
    not_contains = await aql(
        client,
        "SELECT c/uid/value FROM EHR e CONTAINS COMPOSITION c "
        f"NOT CONTAINS EVALUATION x[{evaluation}]",
    )
    assert len(not_contains["rows"]) == 3
    excluded = await aql(
        client,
        "SELECT c/uid/value FROM EHR e CONTAINS COMPOSITION c "
        f"NOT CONTAINS OBSERVATION x[{BP_ARCHETYPE}]",
    )
    assert excluded["rows"] == []
    either = await aql(
        client,
        f"SELECT c/uid/value, o/name/value, x FROM COMPOSITION c CONTAINS "
        f"(OBSERVATION o[{BP_ARCHETYPE}] OR EVALUATION x[{evaluation}])",
    )
    assert len(either["rows"]) == 3
    assert all(
        row[1] == "Blood pressure (Training sample)" and row[2] is None for row in either["rows"]
    )
    both = await aql(
        client,
        "SELECT c/uid/value FROM COMPOSITION c CONTAINS "
        f"(OBSERVATION o[{BP_ARCHETYPE}] AND EVALUATION x[{evaluation}])",
    )
    assert both["rows"] == []
    elements = await aql(
        client,
        f"SELECT el/value/magnitude FROM OBSERVATION o[{BP_ARCHETYPE}] CONTAINS ELEMENT el[at0004]",
    )
    assert sorted(r[0] for r in elements["rows"]) == [120, 135, 150]


async def test_whole_objects_and_primitives_are_selected_as_canonical_json(client: Client) -> None:
    ehrs = await load(client)
    result = await aql(
        client,
        f"SELECT e, c, o, 1, 'x', true FROM EHR e[ehr_id/value='{ehrs[1]}'] "
        f"CONTAINS COMPOSITION c CONTAINS OBSERVATION o[{BP_ARCHETYPE}]",
    )
    [[ehr, composition, observation, one, x, yes]] = result["rows"]
    assert ehr["_type"] == "EHR"
    assert ehr["ehr_id"]["value"] == ehrs[1]
    assert composition["_type"] == "COMPOSITION"
    assert composition["uid"]["value"].endswith("::hygie::1")
    assert observation["archetype_node_id"] == BP_ARCHETYPE
    assert (one, x, yes) == (1, "x", True)


async def test_every_query_is_journaled_as_one_access_event_naming_its_patients(
    client: Client,
) -> None:
    ehrs = await load(client)
    await aql(
        client,
        f"SELECT {SYSTOLIC}/magnitude {FROM_BP} WHERE {SYSTOLIC}/magnitude > $s",
        query_parameters={"s": 100},
    )
    await aql(client, f"SELECT COUNT(*) {FROM_BP}")
    await aql(client, f"SELECT e/ehr_id/value, COUNT(*) {FROM_BP}")
    await aql(client, f"SELECT c FROM EHR e[ehr_id/value='{ehrs[2]}'] CONTAINS COMPOSITION c")
    events = await client.svc.fetch(
        "SELECT event_type, event_key, data FROM journal"
        " WHERE event_type LIKE 'hygie.access.%' ORDER BY seq"
    )
    # one event per query, also the one over an EHR without compositions (it found nothing)
    assert {e["event_type"] for e in events} == {"hygie.access.query.executed.v1"}
    assert [e["event_key"] for e in events] == ["tester"] * 4
    listed, counted, grouped, empty = (e["data"] for e in events)
    assert sorted(listed["patients"]) == ["ipp.site-a|IPP-0", "ipp.site-a|IPP-1"]
    assert (listed["patient_count"], listed["rows"]) == (2, 3)
    assert listed["parameters"] == {"s": 100}
    assert listed["agent"] == "tester"
    assert listed["query"].startswith("SELECT")
    # a count names no patient; grouped by EHR it does
    assert (counted["patients"], counted["patient_count"], counted["rows"]) == ([], None, 1)
    assert sorted(grouped["patients"]) == ["ipp.site-a|IPP-0", "ipp.site-a|IPP-1"]
    assert (empty["patients"], empty["patient_count"], empty["rows"]) == ([], 0, 0)


async def test_compositions_at_the_root_are_their_latest_live_versions(client: Client) -> None:
    """``FROM COMPOSITION c`` reads the heads of compositions: an update is counted once
    (its new version), a deleted composition not at all."""
    await load(client)
    rows = (
        await aql(client, "SELECT e/ehr_id/value, c/uid/value FROM EHR e CONTAINS COMPOSITION c")
    )["rows"]
    (ehr_a, updated), (ehr_b, deleted) = rows[0], rows[1]
    vo_id = updated.split("::")[0]
    put = await client.http.put(
        f"/openehr/v1/ehr/{ehr_a}/composition/{vo_id}",
        json=blood_pressure(101, "2024-04-02T10:00:00Z"),
        headers={**client.headers, "If-Match": updated},
    )
    assert put.status_code in (200, 204), put.text
    gone = await client.http.delete(
        f"/openehr/v1/ehr/{ehr_b}/composition/{deleted}", headers=client.headers
    )
    assert gone.status_code == 204, gone.text
    count = "SELECT c/archetype_details/template_id/value, COUNT(*) FROM COMPOSITION c"
    assert (await aql(client, count))["rows"] == [["ehrbase_blood_pressure_simple.de.v0", 2]]
    uids = [r[0] for r in (await aql(client, "SELECT c/uid/value FROM COMPOSITION c"))["rows"]]
    assert len(uids) == 2
    assert f"{vo_id}::hygie::2" in uids
    assert deleted not in uids
    latest = await aql(
        client,
        "SELECT c/context/start_time/value FROM EHR e CONTAINS COMPOSITION c"
        " ORDER BY c/context/start_time/value DESC LIMIT 1",
    )
    assert latest["rows"] == [["2024-04-02T10:00:00Z"]]
