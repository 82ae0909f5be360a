"""Contributions: several versions committed together — all stored, or none."""

from __future__ import annotations

import copy

from ehr_support import COMPOSITION, CONFORMANCE, Client, load_json

BASE = "/openehr/v1/ehr"
MINIMAL = CONFORMANCE / "valid_templates" / "minimal"


async def test_the_suites_contribution_is_committed_and_readable(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload(MINIMAL / "minimal_admin.opt")
    body = load_json(MINIMAL / "minimal_admin.contribution.json")
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/contribution",
        json=body,
        headers={**client.headers, "Prefer": "return=representation"},
    )
    assert resp.status_code == 201, resp.text
    contribution = resp.json()
    assert len(contribution["versions"]) == 1
    uid = contribution["versions"][0]["id"]["value"]
    got = await client.http.get(
        resp.headers["Location"].replace("http://test", ""), headers=client.headers
    )
    assert got.json()["uid"] == contribution["uid"]
    composition = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{uid}", headers=client.headers
    )
    assert composition.status_code == 200


def _version(data: dict, change: str, code: str, preceding: str | None = None) -> dict:
    version = {
        "_type": "ORIGINAL_VERSION",
        "data": data,
        "commit_audit": {
            "change_type": {
                "value": change,
                "defining_code": {"terminology_id": {"value": "openehr"}, "code_string": code},
            },
            "committer": {"_type": "PARTY_IDENTIFIED", "name": "Dr. Contribution"},
        },
        "lifecycle_state": {
            "value": "complete",
            "defining_code": {"terminology_id": {"value": "openehr"}, "code_string": "532"},
        },
    }
    if preceding:
        version["preceding_version_uid"] = {"value": preceding}
    return version


async def test_one_invalid_version_leaves_nothing_half_committed(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    good = load_json(COMPOSITION)
    bad = copy.deepcopy(good)
    del bad["category"]
    body = {
        "versions": [_version(good, "creation", "249"), _version(bad, "creation", "249")],
        "audit": {"change_type": {"value": "creation"}},
    }
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/contribution", json=body, headers=client.headers
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["issues"][0]["path"].startswith("/versions[1]/data/category")
    assert (
        await client.svc.fetch(
            "SELECT * FROM contribution c JOIN object_version v "
            "USING (contribution_id) WHERE v.template_id IS NOT NULL"
        )
        == []
    )


async def test_a_contribution_can_modify_and_delete_existing_compositions(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    a = (await client.commit(ehr_id, load_json(COMPOSITION))).headers["ETag"].strip('"')
    b = (await client.commit(ehr_id, load_json(COMPOSITION))).headers["ETag"].strip('"')
    body = {
        "versions": [
            _version(load_json(COMPOSITION), "modification", "251", a),
            _version(load_json(COMPOSITION), "deleted", "523", b),
        ],
        "audit": {"change_type": {"value": "modification"}},
    }
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/contribution",
        json=body,
        headers={**client.headers, "Prefer": "return=representation"},
    )
    assert resp.status_code == 201, resp.text
    uids = sorted(v["id"]["value"] for v in resp.json()["versions"])
    assert uids == sorted([a.replace("::1", "::2"), b.replace("::1", "::2")])
    deleted = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{b.split('::')[0]}", headers=client.headers
    )
    assert deleted.status_code == 204
    stale = {"versions": [_version(load_json(COMPOSITION), "modification", "251", a)]}
    again = await client.http.post(
        f"{BASE}/{ehr_id}/contribution", json=stale, headers=client.headers
    )
    assert again.status_code == 412
    events = await client.svc.fetch(
        "SELECT event_type FROM journal WHERE topic = 'hygie.ehr.v1' ORDER BY seq"
    )
    assert events[-1]["event_type"] == "hygie.ehr.contribution.committed.v1"
