"""EHRs and their versioned EHR_STATUS: one EHR per subject, lookup by subject, updates
with If-Match."""

from __future__ import annotations

from ehr_support import Client

BASE = "/openehr/v1/ehr"


async def test_a_subject_has_one_ehr_found_by_its_identifier(client: Client) -> None:
    ehr_id = await client.new_ehr("IPP-42", "ipp.site-a")
    found = await client.http.get(
        BASE,
        params={"subject_id": "IPP-42", "subject_namespace": "ipp.site-a"},
        headers=client.headers,
    )
    assert found.status_code == 200
    assert found.json()["ehr_id"]["value"] == ehr_id
    second = await client.http.post(
        BASE,
        json={
            "_type": "EHR_STATUS",
            "subject": {"external_ref": {"id": {"value": "IPP-42"}, "namespace": "ipp.site-a"}},
            "is_queryable": True,
            "is_modifiable": True,
        },
        headers=client.headers,
    )
    assert second.status_code == 409
    missing = await client.http.get(
        BASE,
        params={"subject_id": "IPP-43", "subject_namespace": "ipp.site-a"},
        headers=client.headers,
    )
    assert missing.status_code == 404


async def test_put_ehr_creates_an_ehr_with_the_given_id_once(client: Client) -> None:
    ehr_id = "7d44b88c-4199-4bad-97dc-d78268e01398"
    first = await client.http.put(f"{BASE}/{ehr_id}", headers=client.headers)
    assert first.status_code == 201, first.text
    again = await client.http.put(f"{BASE}/{ehr_id}", headers=client.headers)
    assert again.status_code == 409
    bad = await client.http.put(f"{BASE}/not-a-uuid", headers=client.headers)
    assert bad.status_code == 400


async def test_updating_ehr_status_versions_it_and_moves_the_subject(client: Client) -> None:
    ehr_id = await client.new_ehr("IPP-7")
    current = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    v1 = current.headers["ETag"].strip('"')
    assert v1.endswith("::hygie::1")
    status = current.json()
    status["subject"]["external_ref"]["id"]["value"] = "IPP-8"
    status["is_queryable"] = False
    resp = await client.http.put(
        f"{BASE}/{ehr_id}/ehr_status",
        json=status,
        headers={**client.headers, "If-Match": v1, "Prefer": "return=representation"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["uid"]["value"].endswith("::2")
    stale = await client.http.put(
        f"{BASE}/{ehr_id}/ehr_status", json=status, headers={**client.headers, "If-Match": v1}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"].strip('"').endswith("::2")
    by_new = await client.http.get(
        BASE,
        params={"subject_id": "IPP-8", "subject_namespace": "ipp.site-a"},
        headers=client.headers,
    )
    assert by_new.json()["ehr_id"]["value"] == ehr_id
    old = await client.http.get(f"{BASE}/{ehr_id}/ehr_status/{v1}", headers=client.headers)
    assert old.json()["subject"]["external_ref"]["id"]["value"] == "IPP-7"
    history = await client.http.get(
        f"{BASE}/{ehr_id}/versioned_ehr_status/revision_history", headers=client.headers
    )
    assert len(history.json()) == 2
    events = await client.svc.fetch("SELECT event_type FROM journal ORDER BY seq")
    assert [e["event_type"] for e in events] == [
        "hygie.ehr.ehr.created.v1",
        "hygie.ehr.ehr_status.updated.v1",
    ]


async def test_an_ehr_status_taking_another_ehrs_subject_is_refused(client: Client) -> None:
    await client.new_ehr("IPP-1")
    ehr_id = await client.new_ehr("IPP-2")
    current = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    status = current.json()
    status["subject"]["external_ref"]["id"]["value"] = "IPP-1"
    resp = await client.http.put(
        f"{BASE}/{ehr_id}/ehr_status",
        json=status,
        headers={**client.headers, "If-Match": current.headers["ETag"]},
    )
    assert resp.status_code == 409
    unchanged = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    assert unchanged.headers["ETag"] == current.headers["ETag"]


async def test_a_non_modifiable_ehr_refuses_compositions(client: Client) -> None:
    resp = await client.http.post(
        BASE,
        json={"_type": "EHR_STATUS", "is_modifiable": False, "is_queryable": True},
        headers={**client.headers, "Prefer": "return=identifier"},
    )
    assert resp.status_code == 201
    ehr_id = resp.json()["ehr_id"]["value"]
    await client.upload()
    from ehr_support import COMPOSITION, load_json

    refused = await client.commit(ehr_id, load_json(COMPOSITION))
    assert refused.status_code == 409
    bad_status = await client.http.post(
        BASE, json={"_type": "EHR_STATUS", "is_modifiable": "yes"}, headers=client.headers
    )
    assert bad_status.status_code == 400
