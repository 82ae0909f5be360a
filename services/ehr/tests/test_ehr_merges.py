"""Patient merges from the patient index re-point EHR subjects: one EHR per surviving
patient, the merged EHR linked, nothing deleted, a replay changes nothing, an unmerge
restores; a bad record goes to the DLQ."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from ehr_support import COMPOSITION, Client, load_json

from hygie_contracts.patient import PatientMerged
from hygie_ehr.domain.merge import GOLDEN_NAMESPACE, MERGE_DETAILS_NAME
from hygie_ehr.service.merges import MergeRefused, apply_merge, apply_unmerge
from hygie_platform import kafka
from hygie_platform.envelope import envelope_for
from hygie_platform.testing import RunningService, eventually

BASE = "/openehr/v1/ehr"


async def _by_subject(client: Client, patient: UUID) -> str | None:
    resp = await client.http.get(
        BASE,
        params={"subject_id": str(patient), "subject_namespace": GOLDEN_NAMESPACE},
        headers=client.headers,
    )
    return resp.json()["ehr_id"]["value"] if resp.status_code == 200 else None


async def _status(client: Client, ehr_id: str) -> tuple[dict, str]:
    resp = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    return resp.json(), resp.headers["ETag"].strip('"')


async def _merge(client: Client, merged: UUID, survivor: UUID, event_id: str) -> str:
    async with client.svc.runtime.app.state.uow() as u:  # type: ignore[union-attr]
        return await apply_merge(
            u, merged=merged, survivor=survivor, event_id=event_id, system_id="hygie"
        )


async def _unmerge(client: Client, patient: UUID, survivor: UUID) -> int:
    async with client.svc.runtime.app.state.uow() as u:  # type: ignore[union-attr]
        return await apply_unmerge(
            u, patient=patient, previous_survivor=survivor, system_id="hygie"
        )


async def test_the_merged_patients_ehr_becomes_the_survivors_and_comes_back_on_unmerge(
    client: Client,
) -> None:
    merged, survivor = uuid4(), uuid4()
    ehr_id = await client.new_ehr(str(merged), namespace=GOLDEN_NAMESPACE)
    assert await _merge(client, merged, survivor, "e1") == "repointed"
    assert await _by_subject(client, survivor) == ehr_id
    assert await _by_subject(client, merged) is None
    status, uid = await _status(client, ehr_id)
    assert uid.endswith("::2")
    assert status["subject"]["external_ref"]["id"]["value"] == str(survivor)
    assert status["other_details"]["name"]["value"] == MERGE_DETAILS_NAME
    assert status["other_details"]["items"][0]["value"]["id"] == str(merged)
    # A replay of the merge (even under another event id) changes nothing.
    assert await _merge(client, merged, survivor, "e1-again") == "already"
    assert (await _status(client, ehr_id))[1] == uid
    assert await _unmerge(client, merged, survivor) == 1
    assert await _by_subject(client, merged) == ehr_id
    status, uid = await _status(client, ehr_id)
    assert uid.endswith("::3")
    assert "other_details" not in status
    assert await _unmerge(client, merged, survivor) == 0  # replayed unmerge: nothing left
    events = await client.svc.fetch(
        "SELECT count(*) AS n FROM journal WHERE event_type = 'hygie.ehr.ehr_status.updated.v1' "
        "AND event_key = :k",
        k=ehr_id,
    )
    assert events == [{"n": 2}]


async def test_when_both_have_an_ehr_the_merged_one_is_closed_and_points_at_the_survivors(
    client: Client,
) -> None:
    merged, survivor = uuid4(), uuid4()
    merged_ehr = await client.new_ehr(str(merged), namespace=GOLDEN_NAMESPACE)
    survivor_ehr = await client.new_ehr(str(survivor), namespace=GOLDEN_NAMESPACE)
    await client.upload()
    assert await _merge(client, merged, survivor, "e2") == "merged_into"
    assert await _by_subject(client, survivor) == survivor_ehr
    status, _ = await _status(client, merged_ehr)
    assert status["is_modifiable"] is False
    assert status["other_details"]["items"][1]["value"]["value"] == f"ehr://{survivor_ehr}"
    refused = await client.commit(merged_ehr, load_json(COMPOSITION))
    assert refused.status_code == 409
    # Nothing deleted: the merged EHR is still readable under its own id.
    assert (
        await client.http.get(f"{BASE}/{merged_ehr}", headers=client.headers)
    ).status_code == 200
    assert (await _status(client, survivor_ehr))[1].endswith("::1")
    assert await _unmerge(client, merged, survivor) == 1
    assert (await _status(client, merged_ehr))[0]["is_modifiable"] is True
    assert (await client.commit(merged_ehr, load_json(COMPOSITION))).status_code == 201


async def test_a_merge_of_a_patient_without_ehr_or_into_itself(client: Client) -> None:
    assert await _merge(client, uuid4(), uuid4(), "e3") == "none"
    patient = uuid4()
    await client.new_ehr(str(patient), namespace=GOLDEN_NAMESPACE)
    with pytest.raises(MergeRefused):
        await _merge(client, patient, patient, "e4")


async def test_merges_arrive_from_the_patient_topic_and_bad_records_are_dead_lettered(
    consuming_service: RunningService,
    hygie_settings,  # type: ignore[no-untyped-def]
) -> None:
    client = Client(consuming_service)
    merged, survivor = uuid4(), uuid4()
    ehr_id = await client.new_ehr(str(merged), namespace=GOLDEN_NAMESPACE)
    producer = kafka.producer(hygie_settings)
    await producer.start()
    try:
        topic = hygie_settings.topic("hygie.patient.v1")
        bad = envelope_for(PatientMerged(patient_id=merged, survivor_id=merged), source="/test")
        good = envelope_for(PatientMerged(patient_id=merged, survivor_id=survivor), source="/test")
        for env in (bad, good):
            await producer.send_and_wait(topic, key=env.key, value=env.data, headers=env.headers())
    finally:
        await producer.stop()

    async def repointed() -> str | None:
        return await _by_subject(client, survivor)

    assert await eventually(repointed, timeout=60) == ehr_id
    runner = client.svc.runtime.runners[0]

    async def dead_lettered() -> bool:
        return runner.status.dead_lettered >= 1

    await eventually(dead_lettered, timeout=60)
    assert "itself" in (runner.status.last_error or "") or runner.status.dead_lettered == 1
