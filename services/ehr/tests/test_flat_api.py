"""FLAT and STRUCTURED over HTTP: web template, create/read/update in the simplified
formats, 422 naming bad keys with nothing stored, the /example endpoint."""

from __future__ import annotations

from ehr_support import CONFORMANCE, Client, load_json

BASE = "/openehr/v1/ehr"
TEMPLATES = "/openehr/v1/definition/template/adl1.4"
FLAT_TYPE = "application/openehr.wt.flat+json"
STRUCTURED_TYPE = "application/openehr.wt.structured+json"
FLAT = (
    CONFORMANCE
    / "compositions"
    / "FLAT"
    / "minimal_evaluation.en.v1_20211018102718_000001_1.xml.flat.json"
)
TEMPLATE_ID = "minimal_evaluation.en.v1"


def _flat_headers(client: Client, **extra: str) -> dict[str, str]:
    return {
        **client.headers,
        "Content-Type": FLAT_TYPE,
        "openehr-template-id": TEMPLATE_ID,
        **extra,
    }


async def test_the_web_template_is_served_for_its_media_type(client: Client) -> None:
    await client.upload()
    resp = await client.http.get(
        f"{TEMPLATES}/{TEMPLATE_ID}",
        headers={**client.headers, "Accept": "application/openehr.wt+json"},
    )
    assert resp.status_code == 200, resp.text
    wt = resp.json()
    assert wt["templateId"] == TEMPLATE_ID
    assert wt["tree"]["id"] == "minimal"
    assert [c["id"] for c in wt["tree"]["children"]][:2] == ["category", "context"]
    xml = await client.http.get(f"{TEMPLATES}/{TEMPLATE_ID}", headers=client.headers)
    assert xml.headers["content-type"].startswith("application/xml")


async def test_a_flat_composition_is_created_read_and_updated_without_loss(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    flat = load_json(FLAT)
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition",
        json=flat,
        headers=_flat_headers(client, Prefer="return=representation", Accept=FLAT_TYPE),
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"] == FLAT_TYPE
    created = resp.json()
    for key, value in flat.items():
        assert created[key] == value, key
    uid = resp.headers["ETag"].strip('"')
    vo_id = uid.split("::")[0]
    read = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{vo_id}?format=FLAT", headers=client.headers
    )
    assert read.status_code == 200
    assert read.json() == created
    changed = dict(created)
    changed["minimal/minimal:0/quantity|magnitude"] = 42.5
    updated = await client.http.put(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        json=changed,
        headers=_flat_headers(client, **{"If-Match": f'"{uid}"', "Accept": FLAT_TYPE}),
    )
    assert updated.status_code == 204, updated.text
    again = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{vo_id}", headers={**client.headers, "Accept": FLAT_TYPE}
    )
    body = again.json()
    assert body["minimal/minimal:0/quantity|magnitude"] == 42.5
    assert body["minimal/composer|name"] == flat["minimal/composer|name"]
    structured = await client.http.get(
        f"{BASE}/{ehr_id}/composition/{vo_id}",
        headers={**client.headers, "Accept": STRUCTURED_TYPE},
    )
    assert structured.json()["minimal"]["minimal"][0]["quantity"][0]["|magnitude"] == 42.5


async def test_unknown_keys_are_a_422_naming_each_key_and_nothing_is_stored(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    flat = load_json(FLAT)
    flat["minimal/minimal:0/quantity|colour"] = "blue"
    flat["minimal/minimal:0/no_such_thing"] = "x"
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition", json=flat, headers=_flat_headers(client)
    )
    assert resp.status_code == 422, resp.text
    paths = {issue["path"] for issue in resp.json()["issues"]}
    assert "minimal/minimal:0/quantity|colour" in paths
    assert "minimal/minimal:0/no_such_thing" in paths
    rows = await client.svc.fetch(
        "SELECT count(*) AS n FROM journal WHERE event_type LIKE '%composition%'"
    )
    assert rows == [{"n": 0}]
    no_template = await client.http.post(
        f"{BASE}/{ehr_id}/composition",
        json=load_json(FLAT),
        headers={**client.headers, "Content-Type": FLAT_TYPE},
    )
    assert no_template.status_code == 422
    assert "template" in no_template.json()["message"]


async def test_the_example_of_a_template_commits_as_it_is(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    example = await client.http.get(
        f"{TEMPLATES}/{TEMPLATE_ID}/example?format=FLAT", headers=client.headers
    )
    assert example.status_code == 200, example.text
    flat = example.json()
    assert any(k.endswith("quantity|magnitude") for k in flat)
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition?templateId={TEMPLATE_ID}&format=FLAT",
        json=flat,
        headers=client.headers,
    )
    assert resp.status_code == 201, resp.text
    canonical = await client.http.get(f"{TEMPLATES}/{TEMPLATE_ID}/example", headers=client.headers)
    assert canonical.json()["_type"] == "COMPOSITION"


async def test_a_structured_composition_is_created_and_read_back(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    structured = {
        "ctx": {"language": "en", "territory": "FR", "composer_name": "Dr. Who"},
        "minimal": {"minimal": [{"quantity": [{"|magnitude": 70.5, "|unit": "kg"}]}]},
    }
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition",
        json=structured,
        headers={
            **client.headers,
            "Content-Type": "application/openehr.wt.structured.schema+json",
            "openehr-template-id": TEMPLATE_ID,
            "Prefer": "return=representation",
            "Accept": STRUCTURED_TYPE,
        },
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["minimal"]["minimal"][0]["quantity"][0] == {"|magnitude": 70.5, "|unit": "kg"}
    assert body["minimal"]["composer"][0]["|name"] == "Dr. Who"
    assert body["minimal"]["territory"][0] == {"|code": "FR", "|terminology": "ISO_3166-1"}


async def test_a_value_of_the_wrong_type_is_named_by_its_key(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    flat = load_json(FLAT)
    flat["minimal/context/start_time"] = "yesterday"
    flat["minimal/minimal:0/quantity|magnitude"] = "heavy"
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition", json=flat, headers=_flat_headers(client)
    )
    assert resp.status_code == 422, resp.text
    issues = {i["path"]: i["message"] for i in resp.json()["issues"]}
    assert "ISO 8601" in issues["minimal/context/start_time"]
    assert "number" in issues["minimal/minimal:0/quantity|magnitude"]


async def _stored_compositions(client: Client) -> int:
    rows = await client.svc.fetch(
        "SELECT count(*) AS n FROM journal WHERE event_type LIKE '%composition%'"
    )
    return int(rows[0]["n"])


async def test_every_kind_of_bad_key_is_listed_in_one_422(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    flat = load_json(FLAT)
    flat["minimal/minimal:0/no_such_node"] = "x"  # unknown key
    flat["minimal/minimal:0/quantity|colour"] = "blue"  # wrong suffix
    flat["minimal/minimal:0/quantity|magnitude"] = "heavy"  # wrong value type
    flat["minimal/minimal:2/quantity|magnitude"] = 1.0  # index gap: no minimal:1
    flat["minimal/minimal:2/quantity|unit"] = "kg"
    flat["ctx/favourite_colour"] = "red"  # unknown ctx key
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition", json=flat, headers=_flat_headers(client)
    )
    assert resp.status_code == 422, resp.text
    issues = {i["path"]: i["message"] for i in resp.json()["issues"]}
    assert "unknown node" in issues["minimal/minimal:0/no_such_node"]
    assert "unknown suffix" in issues["minimal/minimal:0/quantity|colour"]
    assert "number" in issues["minimal/minimal:0/quantity|magnitude"]
    assert "index gap" in issues["minimal/minimal:1"]
    assert "unknown ctx key" in issues["ctx/favourite_colour"]
    assert len(issues) == 5
    assert await _stored_compositions(client) == 0


async def test_a_template_violation_is_a_422_naming_the_flat_key(client: Client) -> None:
    """The body converts, but the composition breaks the template: the 422 names the FLAT
    key (and suffix) that placed the offending value; the canonical path is in the reason."""
    ehr_id = await client.new_ehr()
    await client.upload()
    flat = load_json(FLAT)
    flat["minimal/minimal:0/quantity|unit"] = "lb"
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition", json=flat, headers=_flat_headers(client)
    )
    assert resp.status_code == 422, resp.text
    issues = resp.json()["issues"]
    assert [i["path"] for i in issues] == ["minimal/minimal:0/quantity|unit"]
    assert "/data/items[at0002]/value/units" in issues[0]["message"]
    structured = {
        "ctx": {"territory": "FR", "composer_name": "Dr. Who"},
        "minimal": {"minimal": [{"quantity": [{"|magnitude": 1.0, "|unit": "lb"}]}]},
    }
    resp = await client.http.post(
        f"{BASE}/{ehr_id}/composition?format=STRUCTURED&templateId={TEMPLATE_ID}",
        json=structured,
        headers=client.headers,
    )
    assert resp.status_code == 422, resp.text
    assert [i["path"] for i in resp.json()["issues"]] == ["minimal/minimal:0/quantity|unit"]
    assert await _stored_compositions(client) == 0


async def test_a_missing_or_unknown_template_id_is_a_422(client: Client) -> None:
    ehr_id = await client.new_ehr()
    await client.upload()
    for headers in (
        {**client.headers, "Content-Type": FLAT_TYPE},
        {**client.headers, "Content-Type": FLAT_TYPE, "openehr-template-id": "no.such.v1"},
    ):
        resp = await client.http.post(
            f"{BASE}/{ehr_id}/composition", json=load_json(FLAT), headers=headers
        )
        assert resp.status_code == 422, resp.text
        assert [i["path"] for i in resp.json()["issues"]] == ["openehr-template-id"]
    assert await _stored_compositions(client) == 0
