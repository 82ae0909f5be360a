"""DIRECTORY: the EHR's versioned FOLDER tree — create, replace with If-Match, delete,
read at a version, at a time and by path; its folders indexed for AQL."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from ehr_support import COMPOSITION, CONFORMANCE, Client, load_json

BASE = "/openehr/v1/ehr"
DIRECTORY = CONFORMANCE / "directory"
FOLDER_SUITES = sorted(DIRECTORY.glob("*.json")) + sorted(
    (CONFORMANCE / "aql" / "data_load" / "folder").glob("*.json")
)


def _without_uid(folder: dict) -> dict:
    return {k: v for k, v in folder.items() if k != "uid"}


async def _post(client: Client, ehr_id: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    return await client.http.post(
        f"{BASE}/{ehr_id}/directory", json=body, headers={**client.headers, **headers}
    )


async def test_every_suite_directory_is_created_and_reads_back_equal(client: Client) -> None:
    accepted = 0
    for path in FOLDER_SUITES:
        ehr_id = await client.new_ehr()
        folder = load_json(path)
        resp = await _post(client, ehr_id, folder)
        assert resp.status_code == 201, f"{path.name}: {resp.text}"
        uid = resp.headers["ETag"].strip('"')
        assert uid.endswith("::hygie::1")
        got = await client.http.get(f"{BASE}/{ehr_id}/directory", headers=client.headers)
        assert got.status_code == 200
        assert got.json()["uid"]["value"] == uid
        assert _without_uid(got.json()) == _without_uid(folder), path.name
        accepted += 1
    assert accepted == len(FOLDER_SUITES) >= 20


async def test_the_directory_is_versioned_with_if_match_and_readable_at_any_version(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr("IPP-DIR")
    steps = [
        load_json(DIRECTORY / "update" / f)
        for f in sorted(p.name for p in (DIRECTORY / "update").glob("*.json"))
    ]
    first = await _post(client, ehr_id, steps[0], Prefer="return=representation")
    assert first.status_code == 201, first.text
    v1 = first.headers["ETag"].strip('"')
    assert first.json()["uid"]["value"] == v1
    assert (await _post(client, ehr_id, steps[0])).status_code == 409
    await asyncio.sleep(0.01)
    put = await client.http.put(
        f"{BASE}/{ehr_id}/directory",
        json=steps[1],
        headers={**client.headers, "If-Match": f'"{v1}"'},
    )
    assert put.status_code == 204, put.text
    v2 = put.headers["ETag"].strip('"')
    assert v2 == v1.replace("::1", "::2")
    stale = await client.http.put(
        f"{BASE}/{ehr_id}/directory",
        json=steps[2],
        headers={**client.headers, "If-Match": f'"{v1}"'},
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == f'"{v2}"'
    # Each version stays readable: by uid, and by the time it was current.
    old = await client.http.get(f"{BASE}/{ehr_id}/directory/{v1}", headers=client.headers)
    assert _without_uid(old.json()) == _without_uid(steps[0])
    time_v1 = first.headers["Last-Modified"]
    assert time_v1
    history = await client.svc.fetch(
        "SELECT version, time_committed FROM object_version v JOIN versioned_object o "
        "USING (vo_id) WHERE o.kind = 'FOLDER' AND v.ehr_id = :e ORDER BY version",
        e=__import__("uuid").UUID(ehr_id),
    )
    at = history[0]["time_committed"].isoformat()
    got = await client.http.get(
        f"{BASE}/{ehr_id}/directory", params={"version_at_time": at}, headers=client.headers
    )
    assert got.headers["ETag"] == f'"{v1}"'
    latest = await client.http.get(f"{BASE}/{ehr_id}/directory", headers=client.headers)
    assert _without_uid(latest.json()) == _without_uid(steps[1])
    # A sub-folder by its path of names; an unknown path is 404.
    sub = steps[1]["folders"][0]
    by_path = await client.http.get(
        f"{BASE}/{ehr_id}/directory",
        params={"path": sub["name"]["value"]},
        headers=client.headers,
    )
    assert by_path.status_code == 200
    assert by_path.json() == sub
    missing = await client.http.get(
        f"{BASE}/{ehr_id}/directory", params={"path": "no/such/folder"}, headers=client.headers
    )
    assert missing.status_code == 404
    events = await client.svc.fetch(
        "SELECT data FROM journal WHERE event_type = 'hygie.ehr.folder.committed.v1' "
        "AND event_key = :k ORDER BY seq",
        k=ehr_id,
    )
    assert [
        json.loads(e["data"])["version_uid"]
        if isinstance(e["data"], str)
        else e["data"]["version_uid"]
        for e in events
    ] == [v1, v2]


async def test_deleting_keeps_the_history_and_a_new_directory_continues_it(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    folder = load_json(DIRECTORY / "subfolders_in_directory.json")
    v1 = (await _post(client, ehr_id, folder)).headers["ETag"].strip('"')
    no_match = await client.http.delete(f"{BASE}/{ehr_id}/directory", headers=client.headers)
    assert no_match.status_code == 400
    deleted = await client.http.delete(
        f"{BASE}/{ehr_id}/directory", headers={**client.headers, "If-Match": v1}
    )
    assert deleted.status_code == 204
    v2 = deleted.headers["ETag"].strip('"')
    assert (
        await client.http.get(f"{BASE}/{ehr_id}/directory", headers=client.headers)
    ).status_code == 204
    old = await client.http.get(f"{BASE}/{ehr_id}/directory/{v1}", headers=client.headers)
    assert old.status_code == 200
    again = await _post(client, ehr_id, folder)
    assert again.status_code == 201
    assert again.headers["ETag"].strip('"') == v2.replace("::2", "::3")
    kinds = await client.svc.fetch(
        "SELECT change_type, lifecycle_state FROM object_version v JOIN versioned_object o "
        "USING (vo_id) WHERE o.kind = 'FOLDER' AND v.ehr_id = :e ORDER BY version",
        e=__import__("uuid").UUID(ehr_id),
    )
    assert [k["change_type"] for k in kinds] == ["creation", "deleted", "creation"]


async def test_folders_and_their_composition_items_are_indexed_per_version(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    vo_ids = []
    for _ in range(2):
        resp = await client.commit(ehr_id, load_json(COMPOSITION))
        vo_ids.append(resp.headers["ETag"].strip('"').split("::")[0])
    ref = lambda vo: {  # noqa: E731
        "id": {"_type": "HIER_OBJECT_ID", "value": vo},
        "namespace": "local",
        "type": "VERSIONED_COMPOSITION",
    }
    folder = {
        "_type": "FOLDER",
        "name": {"_type": "DV_TEXT", "value": "root"},
        "archetype_node_id": "openEHR-EHR-FOLDER.generic.v1",
        "folders": [
            {
                "_type": "FOLDER",
                "name": {"_type": "DV_TEXT", "value": "episodes"},
                "archetype_node_id": "openEHR-EHR-FOLDER.episode_of_care.v1",
                "folders": [
                    {
                        "_type": "FOLDER",
                        "name": {"_type": "DV_TEXT", "value": "2026"},
                        "archetype_node_id": "openEHR-EHR-FOLDER.generic.v1",
                        "items": [ref(vo_ids[0])],
                    }
                ],
            },
            {
                "_type": "FOLDER",
                "name": {"_type": "DV_TEXT", "value": "other"},
                "archetype_node_id": "openEHR-EHR-FOLDER.generic.v1",
                "items": [ref(f"{vo_ids[1]}::hygie::1")],
            },
        ],
    }
    assert (await _post(client, ehr_id, folder)).status_code == 201
    nodes = await client.svc.fetch(
        "SELECT ord, last_ord, parent_ord, depth, name, path, json_path FROM folder_node "
        "WHERE ehr_id = :e ORDER BY ord",
        e=__import__("uuid").UUID(ehr_id),
    )
    assert [(n["ord"], n["last_ord"], n["parent_ord"], n["path"]) for n in nodes] == [
        (0, 3, None, "/"),
        (1, 2, 0, "/episodes"),
        (2, 2, 1, "/episodes/2026"),
        (3, 3, 0, "/other"),
    ]
    assert nodes[2]["json_path"] == ["folders", "0", "folders", "0"]
    # FOLDER f[episode_of_care] CONTAINS COMPOSITION c: a nested-set range join.
    inside = await client.svc.fetch(
        "SELECT i.composition_id::text AS c, i.item_version FROM folder_node f "
        "JOIN folder_item i ON i.vo_id = f.vo_id AND i.version = f.version "
        "AND i.node_ord BETWEEN f.ord AND f.last_ord "
        "WHERE f.ehr_id = :e AND f.archetype_node_id = 'openEHR-EHR-FOLDER.episode_of_care.v1'",
        e=__import__("uuid").UUID(ehr_id),
    )
    assert inside == [{"c": vo_ids[0], "item_version": None}]
    everything = await client.svc.fetch(
        "SELECT i.composition_id::text AS c, i.item_version FROM folder_item i "
        "WHERE i.ehr_id = :e ORDER BY node_ord",
        e=__import__("uuid").UUID(ehr_id),
    )
    assert everything == [
        {"c": vo_ids[0], "item_version": None},
        {"c": vo_ids[1], "item_version": 1},
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"_type": "COMPOSITION", "name": {"value": "x"}}, 400),
        ({"_type": "FOLDER", "archetype_node_id": "openEHR-EHR-FOLDER.generic.v1"}, 400),
        ({"_type": "NOT_A_TYPE"}, 400),
        ([1, 2], 400),
    ],
)
async def test_a_malformed_directory_is_refused_and_nothing_stored(
    client: Client, body: object, status: int
) -> None:
    ehr_id = await client.new_ehr()
    resp = await _post(client, ehr_id, body)
    assert resp.status_code == status, resp.text
    assert await client.svc.fetch("SELECT 1 FROM versioned_object WHERE kind = 'FOLDER'") == []


async def test_a_directory_item_with_a_duplicate_sibling_name_is_refused(client: Client) -> None:
    ehr_id = await client.new_ehr()
    folder = load_json(DIRECTORY / "subfolders_in_directory.json")
    folder["folders"].append(copy.deepcopy(folder["folders"][0]))
    resp = await _post(client, ehr_id, folder)
    assert resp.status_code == 400
    assert "distinct names" in resp.json()["message"]
    unknown = await client.http.get(
        f"{BASE}/00000000-0000-0000-0000-000000000000/directory", headers=client.headers
    )
    assert unknown.status_code == 404
    none_yet = await client.http.get(f"{BASE}/{ehr_id}/directory", headers=client.headers)
    assert none_yet.status_code == 404


async def test_a_contribution_commits_a_composition_and_a_folder_together(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    await client.upload(CONFORMANCE / "valid_templates" / "minimal" / "minimal_evaluation.opt")
    path = CONFORMANCE / "contributions" / "valid" / "minimal"
    body = load_json(path / "contribution.create_composition.create_folder_with_items.json")
    for version in body["versions"]:
        version["data"].pop("uid", None)  # the suite's "replaceme" placeholder
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/contribution",
        json=body,
        headers={**client.headers, "Prefer": "return=representation"},
    )
    assert resp.status_code == 201, resp.text
    kinds = await client.svc.fetch(
        "SELECT o.kind FROM object_version v JOIN versioned_object o USING (vo_id) "
        "WHERE v.ehr_id = :e ORDER BY o.kind",
        e=__import__("uuid").UUID(ehr_id),
    )
    assert [k["kind"] for k in kinds] == ["COMPOSITION", "EHR_STATUS", "FOLDER"]
    got = await client.http.get(f"{BASE}/{ehr_id}/directory", headers=client.headers)
    assert got.status_code == 200
