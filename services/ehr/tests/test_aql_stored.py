"""Stored queries (ITS-REST Definition API) and their execution; VERSION containment and
AQL functions."""

from __future__ import annotations

from ehr_support import Client
from test_aql_query import (  # noqa: F401 - ehr_service: the fixture, relay off
    BP_ARCHETYPE,
    FROM_BP,
    SYSTOLIC,
    aql,
    blood_pressure,
    ehr_service,
    load,
)

DEFINITION = "/openehr/v1/definition/query"
NAME = "org.hygie::systolic_above"
STATEMENT = f"SELECT {SYSTOLIC}/magnitude AS sys {FROM_BP} WHERE {SYSTOLIC}/magnitude > $min"


async def test_store_list_and_run_a_query_by_version(client: Client) -> None:
    await load(client)
    text = {**client.headers, "Content-Type": "text/plain"}
    put = await client.http.put(f"{DEFINITION}/{NAME}/1.0.0", content=STATEMENT, headers=text)
    assert put.status_code == 200, put.text
    assert put.headers["Location"].endswith(f"/definition/query/{NAME}/1.0.0")
    again = await client.http.put(f"{DEFINITION}/{NAME}/1.0.0", content=STATEMENT, headers=text)
    assert again.status_code == 409
    ordered = STATEMENT + " ORDER BY sys DESC"
    bumped = await client.http.put(
        f"{DEFINITION}/{NAME}?query_type=AQL", content=ordered, headers=text
    )
    assert bumped.json()["version"] == "1.0.1"
    bad = await client.http.put(f"{DEFINITION}/{NAME}/2.0.0", content="SELECT FROM", headers=text)
    assert bad.status_code == 400
    assert (
        await client.http.put(f"{DEFINITION}/bad name/1.0.0", content=STATEMENT, headers=text)
    ).status_code in (400, 404)

    listed = await client.http.get(f"{DEFINITION}/{NAME}", headers=client.headers)
    assert [d["version"] for d in listed.json()] == ["1.0.0", "1.0.1"]
    one = await client.http.get(f"{DEFINITION}/{NAME}/1.0", headers=client.headers)
    assert one.json() == {
        "name": NAME,
        "type": "AQL",
        "version": "1.0.1",
        "saved": one.json()["saved"],
        "q": ordered,
    }
    assert (
        await client.http.get(f"{DEFINITION}/{NAME}/3", headers=client.headers)
    ).status_code == 404

    latest = await client.http.get(
        f"/openehr/v1/query/{NAME}", params={"min": "125"}, headers=client.headers
    )
    assert latest.status_code == 200, latest.text
    assert latest.json()["rows"] == [[150], [135]]
    first = await client.http.post(
        f"/openehr/v1/query/{NAME}/1.0.0",
        json={"query_parameters": {"min": 100}, "fetch": 1},
        headers=client.headers,
    )
    assert first.status_code == 200, first.text
    assert len(first.json()["rows"]) == 1
    assert first.json()["q"] == STATEMENT
    unknown = await client.http.get("/openehr/v1/query/org.hygie::nothing", headers=client.headers)
    assert unknown.status_code == 404


async def test_version_containment_sees_latest_or_all_versions(client: Client) -> None:
    ehrs = await load(client)
    first = await aql(
        client, f"SELECT c/uid/value FROM EHR e[ehr_id/value='{ehrs[1]}'] CONTAINS COMPOSITION c"
    )
    uid = first["rows"][0][0]
    changed = blood_pressure(99, "2024-03-11T10:00:00Z")
    resp = await client.http.put(
        f"/openehr/v1/ehr/{ehrs[1]}/composition/{uid.split('::')[0]}",
        json=changed,
        headers={**client.headers, "If-Match": f'"{uid}"'},
    )
    assert resp.status_code == 204, resp.text
    q = f"SELECT {SYSTOLIC}/magnitude FROM EHR e[ehr_id/value='{ehrs[1]}'] CONTAINS "
    latest = await aql(client, q + f"OBSERVATION o[{BP_ARCHETYPE}]")
    assert latest["rows"] == [[99]]
    every = await aql(
        client,
        f"SELECT v/commit_audit/change_type/value, {SYSTOLIC}/magnitude "
        f"FROM EHR e[ehr_id/value='{ehrs[1]}'] CONTAINS VERSION v[ALL_VERSIONS] "
        f"CONTAINS COMPOSITION c CONTAINS OBSERVATION o[{BP_ARCHETYPE}] "
        "ORDER BY v/commit_audit/time_committed/value",
    )
    assert every["rows"] == [["creation", 135], ["modification", 99]]
    newest = await aql(
        client,
        f"SELECT v/uid/value, v/lifecycle_state/value FROM EHR e[ehr_id/value='{ehrs[1]}'] "
        "CONTAINS VERSION v[LATEST_VERSION] CONTAINS COMPOSITION c",
    )
    assert newest["rows"] == [[uid.replace("::1", "::2"), "complete"]]
    status = await aql(
        client,
        "SELECT s/is_modifiable, s/subject/external_ref/id/value "
        f"FROM EHR e[ehr_id/value='{ehrs[1]}'] CONTAINS EHR_STATUS s",
    )
    assert status["rows"] == [[True, "IPP-1"]]


async def test_aql_functions(client: Client) -> None:
    await load(client)
    result = await aql(
        client,
        "SELECT LENGTH(c/name/value), CONTAINS(c/name/value, 'training'), "
        "POSITION('training', c/name/value), SUBSTRING(c/name/value, 1, 9), "
        "CONCAT(c/name/value, '!'), CONCAT_WS('-', 'a', 'b'), ABS(-2), MOD(7, 3), "
        f"CEIL({SYSTOLIC}/magnitude), FLOOR(1.5), ROUND(2.567, 2) {FROM_BP} "
        f"WHERE {SYSTOLIC}/magnitude = 150",
    )
    assert result["rows"] == [
        [27, True, 12, "Encounter", "Encounter (training sample)!", "a-b", 2, 1, 150, 1, 2.57]
    ]
    now = await aql(
        client,
        "SELECT CURRENT_DATE(), CURRENT_DATE_TIME(), NOW(), CURRENT_TIME(), CURRENT_TIMEZONE() "
        f"{FROM_BP} LIMIT 1",
    )
    date, date_time, now_, _time, zone = now["rows"][0]
    assert date_time.startswith(date)
    assert now_.startswith(date)
    assert zone.startswith(("+", "-"))
    in_where = await aql(
        client, f"SELECT {SYSTOLIC}/magnitude {FROM_BP} WHERE LENGTH(c/name/value) > 100"
    )
    assert in_where["rows"] == []
