"""The commit path with a template already parsed: the composition is validated first and
written by one statement that checks the EHR itself; what it finds otherwise is answered
as on the slow path (the EHR's 404 before the body's 422)."""

from __future__ import annotations

from ehr_support import COMPOSITION, Client, load_json

UNKNOWN_EHR = "6c2b4bd0-3f0e-4b9a-9d0e-1a2b3c4d5e6f"


async def test_a_cached_template_commit_journals_the_subject_and_checks_the_ehr(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr(subject_id="P-commit-path", namespace="ipp.site-b")
    await client.upload()
    for _ in range(2):  # the second commit finds the template parsed
        resp = await client.commit(ehr_id, load_json(COMPOSITION))
        assert resp.status_code == 201, resp.text
    rows = await client.svc.fetch(
        "SELECT data FROM journal WHERE event_type = 'hygie.ehr.composition.committed.v1'"
        " ORDER BY seq"
    )
    subjects = [r["data"]["subject"] for r in rows[-2:]]
    assert subjects == [{"namespace": "ipp.site-b", "id": "P-commit-path"}] * 2

    missing = await client.commit(UNKNOWN_EHR, load_json(COMPOSITION))
    assert missing.status_code == 404, missing.text
    broken = load_json(COMPOSITION)
    del broken["territory"]
    missing_and_broken = await client.commit(UNKNOWN_EHR, broken)
    assert missing_and_broken.status_code == 404, missing_and_broken.text
    assert (await client.commit(ehr_id, broken)).status_code == 422
    stored = await client.svc.fetch(
        "SELECT ehr_id FROM versioned_object WHERE kind = 'COMPOSITION'"
    )
    assert {str(r["ehr_id"]) for r in stored} == {ehr_id}
    assert len(stored) == 2
