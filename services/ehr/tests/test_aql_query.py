"""AQL over the stored compositions, through ``/openehr/v1/query/aql``: containment, paths
with node predicates, WHERE on magnitudes and dates, ordering, paging, errors."""

from __future__ import annotations

import copy
from typing import Any

from ehr_support import CONFORMANCE, Client, load_json

AQL = "/openehr/v1/query/aql"
BP_OPT = CONFORMANCE / "aql" / "data_load" / "opts" / "ehrbase_blood_pressure_simple.de.v0.opt"
BP = load_json(
    CONFORMANCE / "aql" / "data_load" / "compositions" / "ehrbase_blood_pressure_simple.de.v0.json"
)
BP_ARCHETYPE = "openEHR-EHR-OBSERVATION.sample_blood_pressure.v1"
SYSTOLIC = "o/data[at0001]/events[at0002]/data[at0003]/items[at0004]/value"


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
