"""OPTIONS /openehr/v1: the conformance manifest lists what is served, and only that."""

from __future__ import annotations

from ehr_support import Client


async def test_the_manifest_lists_the_mounted_openehr_operations(client: Client) -> None:
    resp = await client.http.options("/openehr/v1")
    assert resp.status_code == 200, resp.text
    manifest = resp.json()
    assert manifest["restapi_specs_version"] == "1.0.3"
    assert manifest["solution"]
    assert {"/ehr", "/definition", "/query"} <= set(manifest["endpoints"])
    ops = set(manifest["operations"])
    assert "POST /ehr/{ehr_id}/directory" in ops
    assert "PUT /ehr/{ehr_id}/composition/{vo_id}" in ops
    assert not any("adl2" in op for op in ops)
    # Every listed operation is answered by the service (never a 404/405 of routing).
    probe = await client.http.get("/openehr/v1/definition/template/adl1.4", headers=client.headers)
    assert probe.status_code == 200
