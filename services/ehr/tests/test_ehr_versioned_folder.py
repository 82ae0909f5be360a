"""ITS-REST 1.1 VERSIONED_FOLDER: the directory as a versioned object — its revision
history and every ORIGINAL_VERSION, by uid or at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ehr_support import CONFORMANCE, Client, load_json

BASE = "/openehr/v1/ehr"
UPDATES = CONFORMANCE / "directory" / "update"


async def _history_of_three(client: Client) -> tuple[str, str, list[str], str]:
    """An EHR whose directory was created, replaced and deleted; (ehr, vo id, uids, time
    between versions 1 and 2)."""
    ehr_id = await client.new_ehr("IPP-VF")
    url = f"{BASE}/{ehr_id}/directory"
    first = await client.http.post(
        url, json=load_json(UPDATES / "1_create_empty_directory.json"), headers=client.headers
    )
    assert first.status_code == 201, first.text
    v1 = first.headers["ETag"].strip('"')
    await asyncio.sleep(0.05)
    between = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.05)
    second = await client.http.put(
        url,
        json=load_json(UPDATES / "2_add_subfolders.json"),
        headers={**client.headers, "If-Match": v1},
    )
    assert second.status_code in (200, 204), second.text
    v2 = second.headers["ETag"].strip('"')
    third = await client.http.delete(url, headers={**client.headers, "If-Match": v2})
    assert third.status_code == 204, third.text
    v3 = third.headers["ETag"].strip('"')
    return ehr_id, v1.split("::")[0], [v1, v2, v3], between


async def test_the_versioned_folder_its_history_and_versions(client: Client) -> None:
    ehr_id, vo_id, uids, between = await _history_of_three(client)
    base = f"{BASE}/{ehr_id}/versioned_folder/{vo_id}"

    versioned = await client.http.get(base, headers=client.headers)
    assert versioned.status_code == 200, versioned.text
    assert versioned.json()["_type"] == "VERSIONED_FOLDER"
    assert versioned.json()["uid"]["value"] == vo_id
    assert versioned.json()["owner_id"]["id"]["value"] == ehr_id

    history = await client.http.get(f"{base}/revision_history", headers=client.headers)
    assert history.status_code == 200
    assert [h["version_id"]["value"] for h in history.json()] == uids
    assert [h["audits"][0]["change_type"]["value"] for h in history.json()] == [
        "creation",
        "modification",
        "deleted",
    ]

    latest = await client.http.get(f"{base}/version", headers=client.headers)
    assert latest.status_code == 200
    assert latest.json()["uid"]["value"] == uids[2]
    assert latest.json()["lifecycle_state"]["value"] == "deleted"
    assert "data" not in latest.json()

    at = await client.http.get(
        f"{base}/version", params={"version_at_time": between}, headers=client.headers
    )
    assert at.status_code == 200, at.text
    assert at.json()["uid"]["value"] == uids[0]
    assert (
        at.json()["data"]["name"]["value"]
        == load_json(UPDATES / "1_create_empty_directory.json")["name"]["value"]
    )

    second = await client.http.get(f"{base}/version/{uids[1]}", headers=client.headers)
    assert second.status_code == 200
    assert second.headers["ETag"].strip('"') == uids[1]
    assert second.json()["preceding_version_uid"]["value"] == uids[0]
    sent = load_json(UPDATES / "2_add_subfolders.json")
    got = second.json()["data"]
    assert [f["name"]["value"] for f in got["folders"]] == [
        f["name"]["value"] for f in sent["folders"]
    ]
    # by a version uid in the path as well as by the object id
    by_version = await client.http.get(
        f"{BASE}/{ehr_id}/versioned_folder/{uids[0]}/version/{uids[0]}", headers=client.headers
    )
    assert by_version.status_code == 200

    accesses = await client.svc.fetch(
        "SELECT data FROM journal WHERE event_type = 'hygie.access.record.accessed.v1' "
        "AND data->>'resource' LIKE 'VersionedFolder/%'"
    )
    assert len(accesses) == 5  # history and four version reads (not the bare head)
    assert {a["data"]["patient"] for a in accesses} == {"ipp.site-a|IPP-VF"}


async def test_versioned_folder_requests_for_what_is_not_there(client: Client) -> None:
    ehr_id, vo_id, uids, _ = await _history_of_three(client)
    other = await client.new_ehr()
    status = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    status_vo = status.headers["ETag"].strip('"').split("::")[0]
    base = f"{BASE}/{ehr_id}/versioned_folder"
    cases = {
        f"{base}/{status_vo}": 404,  # the EHR_STATUS is no folder
        f"{BASE}/{other}/versioned_folder/{vo_id}": 404,  # another EHR's directory
        f"{BASE}/7d44b88c-4199-4bad-97dc-d78268e01399/versioned_folder/{vo_id}": 404,
        f"{base}/7d44b88c-4199-4bad-97dc-d78268e01399/revision_history": 404,
        f"{base}/not-a-uuid": 400,
        f"{base}/{vo_id}/version/{vo_id}::hygie::9": 404,
        f"{base}/{vo_id}/version/{status_vo}::hygie::1": 404,
        f"{base}/{vo_id}/version/garbage": 400,
        f"{base}/{vo_id}/version?version_at_time=yesterday": 400,
        f"{base}/{vo_id}/version?version_at_time=2001-01-01T00:00:00Z": 404,
    }
    for url, status_code in cases.items():
        resp = await client.http.get(url, headers=client.headers)
        assert resp.status_code == status_code, (url, resp.text)
        assert resp.json()["message"]
    assert len(uids) == 3
