"""EHR_STATUS and FOLDER naming a template (``archetype_details.template_id``) are
validated against it like compositions: 422 with every issue and its path, nothing stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from archetyped_support import (
    FOLDER_OPT,
    STATUS_OPT,
    consent_status,
    episode_folder,
)
from ehr_support import Client

BASE = "/openehr/v1/ehr"


async def _upload(client: Client, opt: bytes) -> None:
    resp = await client.http.post(
        "/openehr/v1/definition/template/adl1.4",
        content=opt,
        headers={**client.headers, "Content-Type": "application/xml"},
    )
    assert resp.status_code == 201, resp.text


@pytest.fixture
async def ready(client: Client) -> Client:
    await _upload(client, STATUS_OPT)
    await _upload(client, FOLDER_OPT)
    return client


def _paths(resp: Any) -> list[str]:
    return [issue["path"] for issue in resp.json()["issues"]]


async def _journal(client: Client, kind: str) -> int:
    rows = await client.svc.fetch(
        "SELECT count(*) AS n FROM journal WHERE event_type = :t", t=f"hygie.ehr.{kind}.v1"
    )
    return int(rows[0]["n"])


async def test_an_ehr_status_conforming_to_its_template_is_stored(ready: Client) -> None:
    resp = await ready.http.post(
        BASE,
        json=consent_status("IPP-C1"),
        headers={**ready.headers, "Prefer": "return=representation"},
    )
    assert resp.status_code == 201, resp.text
    status = resp.json()["ehr_status"]
    assert status["archetype_details"]["template_id"]["value"] == "hygie.ehr_status.consent.v0"
    assert status["other_details"]["items"][0]["value"]["defining_code"]["code_string"] == "at0003"


async def test_an_ehr_status_breaking_its_template_is_refused_with_every_path(
    ready: Client,
) -> None:
    status = consent_status("IPP-C2", code="at0042")
    status["other_details"]["items"].append(
        {
            "_type": "ELEMENT",
            "archetype_node_id": "at0099",
            "name": {"_type": "DV_TEXT", "value": "Stray"},
            "value": {"_type": "DV_TEXT", "value": "x"},
        }
    )
    resp = await ready.http.post(BASE, json=status, headers=ready.headers)
    assert resp.status_code == 422, resp.text
    assert sorted(_paths(resp)) == [
        "/other_details/items[at0002]/value/defining_code/code_string",
        "/other_details/items[at0099]",
    ]
    assert "at0042" in " ".join(resp.json()["validationErrors"])
    missing = consent_status("IPP-C2")
    del missing["other_details"]
    resp = await ready.http.post(BASE, json=missing, headers=ready.headers)
    assert resp.status_code == 422
    assert _paths(resp) == ["/other_details"]
    assert await ready.svc.fetch("SELECT 1 FROM ehr") == []
    assert await _journal(ready, "ehr.created") == 0


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            {"template": "no.such.template.v1"},
            "/archetype_details/template_id",
            "unknown template",
        ),
        (
            {"template": "minimal_evaluation.en.v1"},
            "/archetype_details/template_id",
            "is for COMPOSITION, not EHR_STATUS",
        ),
        ({"archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1"}, "/archetype_node_id", ""),
    ],
)
async def test_an_ehr_status_naming_a_wrong_template_is_refused(
    ready: Client, change: dict[str, str], path: str, words: str
) -> None:
    await ready.upload()
    status = consent_status(
        "IPP-C3", template=change.get("template", "hygie.ehr_status.consent.v0")
    )
    if "archetype_node_id" in change:
        status["archetype_node_id"] = change["archetype_node_id"]
    resp = await ready.http.post(BASE, json=status, headers=ready.headers)
    assert resp.status_code == 422, resp.text
    assert path in _paths(resp)
    assert words in resp.text
    assert await ready.svc.fetch("SELECT 1 FROM ehr") == []


async def test_updating_an_ehr_status_against_its_template_keeps_the_version_on_error(
    ready: Client,
) -> None:
    created = await ready.http.post(
        BASE,
        json=consent_status("IPP-C4"),
        headers={**ready.headers, "Prefer": "return=representation"},
    )
    ehr_id = created.json()["ehr_id"]["value"]
    v1 = created.json()["ehr_status"]["uid"]["value"]
    bad = consent_status("IPP-C4", code="at9999")
    resp = await ready.http.put(
        f"{BASE}/{ehr_id}/ehr_status", json=bad, headers={**ready.headers, "If-Match": v1}
    )
    assert resp.status_code == 422, resp.text
    assert _paths(resp) == ["/other_details/items[at0002]/value/defining_code/code_string"]
    current = await ready.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=ready.headers)
    assert current.headers["ETag"].strip('"') == v1
    good = consent_status("IPP-C4", code="at0004")
    resp = await ready.http.put(
        f"{BASE}/{ehr_id}/ehr_status", json=good, headers={**ready.headers, "If-Match": v1}
    )
    assert resp.status_code == 204, resp.text
    assert await _journal(ready, "ehr_status.updated") == 1


async def test_a_contribution_with_an_ehr_status_breaking_its_template_stores_nothing(
    ready: Client,
) -> None:
    created = await ready.http.post(
        BASE,
        json=consent_status("IPP-C5"),
        headers={**ready.headers, "Prefer": "return=representation"},
    )
    ehr_id = created.json()["ehr_id"]["value"]
    v1 = created.json()["ehr_status"]["uid"]["value"]
    body = {
        "_type": "CONTRIBUTION",
        "versions": [
            {
                "_type": "ORIGINAL_VERSION",
                "preceding_version_uid": {"value": v1},
                "data": consent_status("IPP-C5", code="at0666"),
                "commit_audit": {
                    "change_type": {
                        "value": "modification",
                        "defining_code": {
                            "terminology_id": {"value": "openehr"},
                            "code_string": "251",
                        },
                    },
                    "committer": {"_type": "PARTY_IDENTIFIED", "name": "Dr. C"},
                },
                "lifecycle_state": {
                    "value": "complete",
                    "defining_code": {"terminology_id": {"value": "openehr"}, "code_string": "532"},
                },
            }
        ],
        "audit": {"committer": {"_type": "PARTY_IDENTIFIED", "name": "Dr. C"}},
    }
    resp = await ready.http.post(f"{BASE}/{ehr_id}/contribution", json=body, headers=ready.headers)
    assert resp.status_code == 422, resp.text
    assert _paths(resp) == [
        "/versions[0]/data/other_details/items[at0002]/value/defining_code/code_string"
    ]
    assert len(await ready.svc.fetch("SELECT 1 FROM contribution")) == 1
    fixed = copy.deepcopy(body)
    fixed["versions"][0]["data"] = consent_status("IPP-C5", code="at0004")
    resp = await ready.http.post(f"{BASE}/{ehr_id}/contribution", json=fixed, headers=ready.headers)
    assert resp.status_code == 201, resp.text


def _directory(*episodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "_type": "FOLDER",
        "archetype_node_id": "openEHR-EHR-FOLDER.generic.v1",
        "name": {"_type": "DV_TEXT", "value": "root"},
        "folders": list(episodes),
    }


async def test_folders_naming_a_template_are_validated_against_it(ready: Client) -> None:
    ehr_id = await ready.new_ehr()
    url = f"{BASE}/{ehr_id}/directory"
    bad = _directory(episode_folder("stay 1"), episode_folder("stay 2", code="at0077"))
    del bad["folders"][0]["details"]
    resp = await ready.http.post(url, json=bad, headers=ready.headers)
    assert resp.status_code == 422, resp.text
    assert sorted(_paths(resp)) == [
        "/folders[0]/details",
        "/folders[1]/details/items[at0002]/value/defining_code/code_string",
    ]
    assert await ready.svc.fetch("SELECT 1 FROM versioned_object WHERE kind = 'FOLDER'") == []
    assert await ready.svc.fetch("SELECT 1 FROM folder_node") == []
    assert await _journal(ready, "folder.committed") == 0

    good = _directory(episode_folder("stay 1"), episode_folder("stay 2", code="at0004"))
    created = await ready.http.post(url, json=good, headers=ready.headers)
    assert created.status_code == 201, created.text
    v1 = created.headers["ETag"].strip('"')
    unknown = copy.deepcopy(good)
    unknown["archetype_details"] = copy.deepcopy(episode_folder("x")["archetype_details"])
    unknown["archetype_details"]["template_id"]["value"] = "hygie.folder.unknown.v0"
    resp = await ready.http.put(url, json=unknown, headers={**ready.headers, "If-Match": v1})
    assert resp.status_code == 422, resp.text
    assert _paths(resp) == ["/archetype_details/template_id"]
    latest = await ready.http.get(url, headers=ready.headers)
    assert latest.headers["ETag"].strip('"') == v1
