"""Operational templates: the EHRbase suite's valid OPTs upload, its invalid ones are
refused with a clear reason, and uploads are idempotent."""

from __future__ import annotations

from ehr_support import CONFORMANCE, OPT, Client, read_bytes

from hygie_ehr.domain.opt import parse_opt

URL = "/openehr/v1/definition/template/adl1.4"
VALID = sorted(
    [
        *CONFORMANCE.glob("valid_templates/**/*.opt"),
        *CONFORMANCE.glob("aql/data_load/opts/**/*.opt"),
    ]
)
INVALID = sorted(CONFORMANCE.glob("invalid_templates/**/*.opt"))


async def test_every_valid_conformance_template_uploads(client: Client) -> None:
    assert len(VALID) > 100
    failures, seen = [], set()
    for path in VALID:
        body = read_bytes(path)
        template_id = parse_opt(body).template_id
        resp = await client.http.post(
            URL, content=body, headers={**client.headers, "Content-Type": "application/xml"}
        )
        # the suite holds a few different files under one template id: the later is a 409
        expected = 409 if template_id in seen and resp.status_code == 409 else 201
        seen.add(template_id)
        if resp.status_code != expected:
            failures.append((path.name, resp.status_code, resp.text[:200]))
    assert failures == []
    listed = (await client.http.get(URL, headers=client.headers)).json()
    assert len(listed) >= 90  # some files share a template id


async def test_every_invalid_conformance_template_is_refused_with_a_reason(client: Client) -> None:
    assert len(INVALID) == 19
    for path in INVALID:
        resp = await client.http.post(
            URL,
            content=read_bytes(path),
            headers={**client.headers, "Content-Type": "application/xml"},
        )
        assert resp.status_code == 400, (path.name, resp.text)
        assert resp.json()["message"], path.name
    assert (await client.http.get(URL, headers=client.headers)).json() == []


async def test_reuploading_is_idempotent_and_a_different_template_with_the_same_id_conflicts(
    client: Client,
) -> None:
    await client.upload()
    await client.upload()
    rows = await client.svc.fetch(
        "SELECT event_type FROM journal WHERE event_type = 'hygie.ehr.template.uploaded.v1'"
    )
    assert len(rows) == 1
    changed = read_bytes(OPT).replace(
        b"<concept>Minimal evaluation</concept>", b"<concept>Changed</concept>"
    )
    resp = await client.http.post(URL, content=changed, headers=client.headers)
    assert resp.status_code == 409, resp.text
    got = await client.http.get(f"{URL}/minimal_evaluation.en.v1", headers=client.headers)
    assert got.status_code == 200
    assert got.content == read_bytes(OPT)
    assert (await client.http.get(f"{URL}/nope", headers=client.headers)).status_code == 404
    adl2 = await client.http.get("/openehr/v1/definition/template/adl2", headers=client.headers)
    assert adl2.status_code == 501
