"""Compositions: commit, read, update with If-Match, delete, history — validated against
their template and journaled."""

from __future__ import annotations

import copy

from ehr_support import COMPOSITION, Client, load_json

BASE = "/openehr/v1/ehr"


async def test_a_valid_composition_is_committed_and_reads_back_equal(client: Client) -> None:
    ehr_id = await client.new_ehr("IPP-1")
    await client.upload()
    composition = load_json(COMPOSITION)
    resp = await client.commit(ehr_id, composition, Prefer="return=representation")
    assert resp.status_code == 201, resp.text
    uid = resp.json()["uid"]["value"]
    assert uid.endswith("::hygie::1")
    assert resp.headers["ETag"] == f'"{uid}"'
    assert resp.headers["Location"].endswith(f"/composition/{uid}")
    got = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{uid.split('::')[0]}", headers=client.headers
    )
    assert got.status_code == 200
    stored = got.json()
    stored.pop("uid")
    assert stored == composition
    events = await client.svc.fetch(
        "SELECT event_type, event_key FROM journal WHERE event_type LIKE '%composition%'"
    )
    assert events == [{"event_type": "hygie.ehr.composition.committed.v1", "event_key": ehr_id}]
    # The read is on the audit trail: an access event naming the patient and the composition.
    accesses = await client.svc.fetch(
        "SELECT event_key, data FROM journal WHERE event_type LIKE 'hygie.access.%'"
    )
    assert len(accesses) == 1
    assert accesses[0]["event_key"] == "ipp|IPP-1" or "IPP-1" in accesses[0]["event_key"]
    assert uid.split("::")[0] in str(accesses[0]["data"])


async def test_updating_with_a_stale_if_match_returns_412_and_keeps_version_2(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    composition = load_json(COMPOSITION)
    v1 = (await client.commit(ehr_id, composition)).headers["ETag"].strip('"')
    vo_id = v1.split("::")[0]
    changed = copy.deepcopy(composition)
    changed["content"][0]["data"]["items"][0]["value"]["magnitude"] = 80.0
    resp = await client.http.put(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        json=changed,
        headers={**client.headers, "If-Match": f'"{v1}"'},
    )
    assert resp.status_code == 204, resp.text
    v2 = resp.headers["ETag"].strip('"')
    assert v2 == f"{vo_id}::hygie::2"
    stale = await client.http.put(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        json=composition,
        headers={**client.headers, "If-Match": v1},
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == f'"{v2}"'
    latest = await client.http.get(f"{BASE}/{ehr_id}/composition/{vo_id}", headers=client.headers)
    assert latest.json()["uid"]["value"] == v2
    assert latest.json()["content"][0]["data"]["items"][0]["value"]["magnitude"] == 80.0
    first = await client.http.get(f"{BASE}/{ehr_id}/composition/{v1}", headers=client.headers)
    assert first.json()["content"][0]["data"]["items"][0]["value"]["magnitude"] == 78.5
    history = await client.http.get(
        f"{BASE}/{ehr_id}/versioned_composition/{vo_id}/revision_history", headers=client.headers
    )
    changes = [h["audits"][0]["change_type"]["value"] for h in history.json()]
    assert changes == ["creation", "modification"]
    versioned = await client.http.get(
        f"{BASE}/{ehr_id}/versioned_composition/{vo_id}", headers=client.headers
    )
    assert versioned.json()["_type"] == "VERSIONED_COMPOSITION"
    assert versioned.json()["uid"]["value"] == vo_id
    assert versioned.json()["owner_id"]["id"]["value"] == ehr_id
    status = await client.http.get(f"{BASE}/{ehr_id}/versioned_ehr_status", headers=client.headers)
    assert status.json()["_type"] == "VERSIONED_EHR_STATUS"
    assert status.json()["owner_id"] == versioned.json()["owner_id"]


async def test_deleting_leaves_a_tombstone_and_a_readable_history(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    v1 = (await client.commit(ehr_id, load_json(COMPOSITION))).headers["ETag"].strip('"')
    vo_id = v1.split("::")[0]
    resp = await client.http.delete(f"{BASE}/{ehr_id}/composition/{v1}", headers=client.headers)
    assert resp.status_code == 204, resp.text
    assert (
        await client.http.get(f"{BASE}/{ehr_id}/composition/{vo_id}", headers=client.headers)
    ).status_code == 204
    old = await client.http.get(f"{BASE}/{ehr_id}/composition/{v1}", headers=client.headers)
    assert old.status_code == 200
    again = await client.http.delete(f"{BASE}/{ehr_id}/composition/{v1}", headers=client.headers)
    assert again.status_code == 409
    version = await client.http.get(
        f"{BASE}/{ehr_id}/versioned_composition/{vo_id}/version", headers=client.headers
    )
    body = version.json()
    assert body["lifecycle_state"]["value"] == "deleted"
    assert body["commit_audit"]["change_type"]["value"] == "deleted"
    assert "data" not in body
    kinds = await client.svc.fetch(
        "SELECT event_type FROM journal WHERE topic = 'hygie.ehr.v1' ORDER BY seq"
    )
    assert kinds[-1]["event_type"] == "hygie.ehr.composition.deleted.v1"


async def test_an_invalid_composition_is_refused_with_every_path_and_nothing_stored(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    broken = load_json(COMPOSITION)
    element = broken["content"][0]["data"]["items"][0]
    element["value"] = {"_type": "DV_QUANTITY", "magnitude": 78.5, "units": "lb"}
    del broken["territory"]
    broken["content"][0]["data"]["items"].append(
        {
            "_type": "ELEMENT",
            "archetype_node_id": "at9999",
            "name": {"value": "stray"},
            "value": {"_type": "DV_TEXT", "value": "x"},
        }
    )
    resp = await client.commit(ehr_id, broken)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    paths = {issue["path"] for issue in body["issues"]}
    assert "/territory" in paths
    assert "/content[openEHR-EHR-EVALUATION.minimal.v1]/data/items[at9999]" in paths
    assert any(p.endswith("/items[at0002]/value/units") for p in paths), paths
    assert body["validationErrors"]
    assert await client.svc.fetch("SELECT * FROM versioned_object WHERE kind='COMPOSITION'") == []


async def test_bad_input_gets_a_precise_4xx(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    url = f"{BASE}/{ehr_id}/composition"
    malformed = await client.http.post(
        url, content=b"{not json", headers={**client.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    unknown_type = load_json(COMPOSITION)
    unknown_type["content"][0]["_type"] = "OBSERVATIONX"
    assert (await client.commit(ehr_id, unknown_type)).status_code == 400
    unknown_template = load_json(COMPOSITION)
    unknown_template["archetype_details"]["template_id"]["value"] = "nope.v0"
    resp = await client.commit(ehr_id, unknown_template)
    assert resp.status_code == 422
    assert "unknown template" in resp.json()["message"]
    wrong_ehr = await client.commit("6c2b4bd0-3f0e-4b9a-9d0e-1a2b3c4d5e6f", load_json(COMPOSITION))
    assert wrong_ehr.status_code == 404
    deep: dict = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    assert (await client.commit(ehr_id, deep)).status_code == 400
    v1 = (await client.commit(ehr_id, load_json(COMPOSITION))).headers["ETag"].strip('"')
    other = "11111111-2222-3333-4444-555555555555::hygie::1"
    resp = await client.http.put(
        f"{BASE}/{ehr_id}/composition/{v1.split('::')[0]}",
        json=load_json(COMPOSITION),
        headers={**client.headers, "If-Match": other},
    )
    assert resp.status_code == 400
    no_if_match = await client.http.put(
        f"{BASE}/{ehr_id}/composition/{v1.split('::')[0]}",
        json=load_json(COMPOSITION),
        headers=client.headers,
    )
    assert no_if_match.status_code == 400
    rows = await client.svc.fetch(
        "SELECT count(*) AS n FROM object_version WHERE template_id IS NOT NULL"
    )
    assert rows[0]["n"] == 1


async def test_version_at_time_returns_the_version_current_then(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    v1 = (await client.commit(ehr_id, load_json(COMPOSITION))).headers["ETag"].strip('"')
    vo_id = v1.split("::")[0]
    rows = await client.svc.fetch(
        "SELECT time_committed FROM object_version WHERE version = 1 AND template_id IS NOT NULL"
    )
    t1 = rows[0]["time_committed"].isoformat()
    await client.http.put(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        json=load_json(COMPOSITION),
        headers={**client.headers, "If-Match": v1},
    )
    at = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        params={"version_at_time": t1},
        headers=client.headers,
    )
    assert at.json()["uid"]["value"] == v1
    before = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        params={"version_at_time": "2000-01-01T00:00:00Z"},
        headers=client.headers,
    )
    assert before.status_code == 404


async def test_lifecycle_state_is_taken_from_the_openehr_version_header(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    resp = await client.commit(
        ehr_id,
        load_json(COMPOSITION),
        **{
            "openEHR-VERSION": 'lifecycle_state.code_string="553"',
            "openEHR-AUDIT_DETAILS": 'committer.name="Dr. Who", description.value="draft"',
        },
    )
    assert resp.status_code == 201, resp.text
    vo_id = resp.headers["ETag"].strip('"').split("::")[0]
    version = (
        await client.http.get(
            f"{BASE}/{ehr_id}/versioned_composition/{vo_id}/version", headers=client.headers
        )
    ).json()
    assert version["lifecycle_state"]["value"] == "incomplete"
    assert version["commit_audit"]["committer"]["name"] == "Dr. Who"
    assert version["commit_audit"]["description"]["value"] == "draft"
