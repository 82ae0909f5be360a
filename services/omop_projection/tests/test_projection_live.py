"""Live projection on real PostgreSQL and broker: held data, versions, deletes, merges,
idempotent replays, lineage and the unmapped report."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from hygie_contracts.patient import PatientMerged, PatientUnmerged
from hygie_omop_projection.domain.person import pseudonym
from hygie_omop_projection.testing import (
    blood_pressure,
    committed,
    composition,
    death_summary,
    deleted,
    lab_result,
    problem,
    quantity,
    registered,
)
from hygie_platform.testing import eventually

from .conftest import KEY

IPP = "urn:oid:1.2.250.1.71.4.2.7"


async def rows(svc, sql, **params):
    return await svc.fetch(sql, **params)


async def test_clinical_data_is_held_until_the_patient_is_known_then_projected(omop, publish):
    patient, ehr = uuid4(), uuid4()
    body = composition(blood_pressure(131, 82), lab_result([("2345-7", quantity(95, "mg/dL"))]))
    await publish(committed(ehr, body, subject=(IPP, "IPP-1")))
    await eventually(lambda: rows(omop, "SELECT 1 FROM omop_g1.composition"))
    assert await rows(omop, "SELECT * FROM omop.measurement") == []

    await publish(registered(patient, ipp="IPP-1"))
    measurements = await eventually(
        lambda: rows(omop, "SELECT * FROM omop.measurement ORDER BY measurement_concept_id")
    )
    (person,) = await rows(omop, "SELECT * FROM omop.person")
    assert person["person_source_value"] == pseudonym(KEY, patient)
    assert person["year_of_birth"] == 1970
    assert person["gender_concept_id"] == 8532
    assert {m["person_id"] for m in measurements} == {person["person_id"]}
    assert [m["measurement_concept_id"] for m in measurements] == [3004249, 3004501, 3012888]
    (visit,) = await rows(omop, "SELECT * FROM omop.visit_occurrence")
    assert {m["visit_occurrence_id"] for m in measurements} == {visit["visit_occurrence_id"]}
    (period,) = await eventually(lambda: rows(omop, "SELECT * FROM omop.observation_period"))
    assert str(period["observation_period_start_date"]) == "2024-03-01"
    lineage = await rows(omop, "SELECT * FROM omop_g1.lineage WHERE omop_table = 'measurement'")
    assert len(lineage) == 3
    assert {str(r["ehr_id"]) for r in lineage} == {str(ehr)}
    (source,) = await rows(omop, "SELECT * FROM omop.cdm_source")
    assert source["cdm_version"] == "5.4"
    assert source["cdm_version_concept_id"] == 756265
    refreshes = await rows(omop, "SELECT events, high_water FROM omop_g1.refresh")
    assert refreshes
    assert all(r["high_water"] for r in refreshes)

    row_id = measurements[0]["measurement_id"]
    answer = await omop.client.get(
        f"/omop/explain/measurement/{row_id}", headers=omop.auth("analyst")
    )
    assert answer.status_code == 200
    assert answer.json()["archetype_path"].endswith("items[at0004]")
    assert answer.json()["ehr_id"] == str(ehr)


async def test_new_version_replaces_rows_in_place_and_deletion_removes_them(omop, publish):
    patient, ehr, voi = uuid4(), uuid4(), uuid4()
    await publish(
        registered(patient, ipp="IPP-2"),
        committed(ehr, composition(blood_pressure(120, 80)), voi=voi, subject=(IPP, "IPP-2")),
    )
    first = await eventually(
        lambda: rows(
            omop,
            "SELECT measurement_id, value_as_number FROM omop.measurement ORDER BY measurement_id",
        )
    )
    await publish(committed(ehr, composition(blood_pressure(150, 95)), voi=voi, version=2))

    async def updated():
        now = await rows(omop, "SELECT measurement_id, value_as_number FROM omop.measurement "
                               "ORDER BY measurement_id")  # fmt: skip
        return now if [float(r["value_as_number"]) for r in now] == [150, 95] else None

    second = await eventually(updated)
    assert [r["measurement_id"] for r in second] == [r["measurement_id"] for r in first]

    await publish(deleted(ehr, voi, 3))

    async def gone():
        left = await rows(omop, "SELECT count(*) AS n FROM omop.measurement")
        return left[0]["n"] == 0 or None

    await eventually(gone)
    assert await rows(omop, "SELECT * FROM omop_g1.lineage") == []
    assert await rows(omop, "SELECT * FROM omop.observation_period") == []


async def test_merge_moves_rows_to_the_survivor_and_unmerge_moves_them_back(omop, publish):
    a, b, ehr_b = uuid4(), uuid4(), uuid4()
    await publish(
        registered(a, ipp="A"), registered(b, ipp="B"),
        committed(ehr_b, composition(blood_pressure(110, 70)), subject=(IPP, "B")),
    )  # fmt: skip

    async def both():
        found = await rows(omop, "SELECT person_id, person_source_value FROM omop.person "
                                 "WHERE (SELECT count(*) FROM omop.measurement) = 2")  # fmt: skip
        return found if len(found) == 2 else None

    persons = await eventually(both)
    by_pseudonym = {p["person_source_value"]: p["person_id"] for p in persons}
    person_a, person_b = by_pseudonym[pseudonym(KEY, a)], by_pseudonym[pseudonym(KEY, b)]

    await publish(PatientMerged(patient_id=b, survivor_id=a))

    async def owners():
        found = await rows(omop, "SELECT DISTINCT person_id FROM omop.measurement")
        return {r["person_id"] for r in found}

    async def moved_to_a():
        return await owners() == {person_a} or None

    await eventually(moved_to_a)
    assert {r["person_id"] for r in await rows(omop, "SELECT person_id FROM omop.person")} == {
        person_a
    }

    await publish(PatientUnmerged(patient_id=b, previous_survivor_id=a))

    async def moved_back():
        return await owners() == {person_b} or None

    await eventually(moved_back)


async def test_replaying_an_event_changes_nothing(omop, publish):
    patient, ehr = uuid4(), uuid4()
    (envelope,) = await publish(registered(patient, ipp="R"))
    await publish(committed(ehr, composition(blood_pressure(100, 60)), subject=(IPP, "R")))
    before = await eventually(lambda: rows(omop, "SELECT * FROM omop.measurement ORDER BY 1"))
    await publish(envelope, envelope)
    marker = uuid4()
    await publish(registered(marker, ipp="marker"))
    await eventually(
        lambda: rows(omop, "SELECT 1 FROM omop_g1.patient WHERE patient_id = :p", p=marker)
    )
    assert await rows(omop, "SELECT * FROM omop.measurement ORDER BY 1") == before
    assert len(await rows(omop, "SELECT * FROM omop.person")) == 2


async def test_unmapped_codes_are_reported_and_rows_kept_with_concept_zero(omop, publish):
    patient, ehr = uuid4(), uuid4()
    await publish(
        registered(patient, ipp="U"),
        committed(ehr, composition(problem("ICD10", "X99.9")), subject=(IPP, "U")),
    )
    (condition,) = await eventually(lambda: rows(omop, "SELECT * FROM omop.condition_occurrence"))
    assert condition["condition_concept_id"] == 0
    assert condition["condition_source_value"] == "ICD10|X99.9"
    answer = await omop.client.get("/omop/unmapped", headers=omop.auth("analyst"))
    assert answer.status_code == 200
    (item,) = answer.json()["items"]
    assert (item["code"], item["n"]) == ("X99.9", 1)


async def test_a_terminology_change_remaps_the_unmapped_rows(omop, publish, translator):
    from hygie_contracts.terminology import ConceptMapChanged
    from hygie_omop_projection.domain.mapper import Concept

    patient, ehr = uuid4(), uuid4()
    await publish(
        registered(patient, ipp="T"),
        committed(ehr, composition(problem("ICD10", "K35.8")), subject=(IPP, "T")),
    )
    (before,) = await eventually(lambda: rows(omop, "SELECT * FROM omop.condition_occurrence"))
    assert before["condition_concept_id"] == 0

    translator.table[("ICD10", "K35.8")] = Concept(440448, 45548589)
    await publish(
        ConceptMapChanged(
            source_system="http://hl7.org/fhir/sid/icd-10", url="urn:test:map", change="replaced",
            changed_source_codes=("K35.8",),
        )
    )  # fmt: skip

    async def remapped():
        found = await rows(omop, "SELECT * FROM omop.condition_occurrence")
        return found if found and found[0]["condition_concept_id"] == 440448 else None

    (after,) = await eventually(remapped)
    assert after["condition_occurrence_id"] == before["condition_occurrence_id"]
    assert await rows(omop, "SELECT * FROM omop_g1.problem") == []


async def test_the_patient_index_death_date_gives_the_death_row(omop, publish):
    patient = uuid4()
    await publish(registered(patient, ipp="D", death=date(2024, 6, 1)))
    (death,) = await eventually(lambda: rows(omop, "SELECT * FROM omop.death"))
    assert death["death_date"] == date(2024, 6, 1)
    assert death["death_type_concept_id"] == 32817


async def test_a_recorded_death_takes_precedence_and_its_deletion_restores_the_index_date(
    omop, publish
):
    patient, ehr, voi = uuid4(), uuid4(), uuid4()
    await publish(
        registered(patient, ipp="DS", death=date(2024, 6, 1)),
        committed(ehr, composition(death_summary("2024-05-30T23:10:00Z")), voi=voi,
                  subject=(IPP, "DS")),
    )  # fmt: skip

    async def death_on(day):
        found = await rows(omop, "SELECT * FROM omop.death")
        return found if found and found[0]["death_date"] == day else None

    (death,) = await eventually(lambda: death_on(date(2024, 5, 30)))
    (trace,) = await rows(omop, "SELECT * FROM omop_g1.lineage WHERE omop_table = 'death'")
    assert trace["omop_id"] == death["person_id"]
    assert trace["versioned_object_id"] == str(voi)
    await publish(deleted(ehr, voi, 2))
    await eventually(lambda: death_on(date(2024, 6, 1)))
    assert await rows(omop, "SELECT * FROM omop_g1.lineage WHERE omop_table = 'death'") == []


async def test_a_malformed_record_goes_to_the_dlq_and_the_partition_moves_on(
    omop, publish, hygie_settings
):
    from hygie_platform import kafka

    producer = kafka.producer(hygie_settings)
    await producer.start()
    try:
        topic = hygie_settings.topic("hygie.patient.v1")
        await producer.send_and_wait(
            topic, key=b"x", value=b"not json",
            headers=[("ce_specversion", b"1.0"), ("ce_id", str(uuid4()).encode()),
                     ("ce_source", b"/test"), ("ce_type", b"hygie.patient.patient.registered.v1"),
                     ("ce_time", b"2024-01-01T00:00:00Z")],
        )  # fmt: skip
    finally:
        await producer.stop()
    patient = uuid4()
    await publish(registered(patient, ipp="after-bad"))
    await eventually(
        lambda: rows(omop, "SELECT 1 FROM omop_g1.patient WHERE patient_id = :p", p=patient)
    )

    async def dead_lettered():
        status = (await omop.client.get("/omop/status", headers=omop.auth("admin"))).json()
        return status["g1"]["dead_lettered"] >= 1 or None

    await eventually(dead_lettered)


async def test_an_ehr_no_longer_queryable_leaves_the_research_view_and_can_come_back(omop, publish):
    from datetime import UTC, datetime

    from hygie_contracts.ehr import AuditDetails, EhrCreated, EhrStatusUpdated, PartyRef

    patient, ehr = uuid4(), uuid4()
    subject = PartyRef(namespace=IPP, id="Q")
    audit = AuditDetails(system_id="hygie", time_committed=datetime.now(UTC),
                         change_type="modification", committer="tester")  # fmt: skip

    def status(queryable: bool, n: int) -> EhrStatusUpdated:
        return EhrStatusUpdated(
            ehr_id=ehr, version_uid=f"{uuid4()}::hygie::{n}", preceding_version_uid="x::hygie::1",
            contribution_id=uuid4(), subject=subject, is_queryable=queryable, audit=audit,
            ehr_status={},
        )  # fmt: skip

    await publish(
        registered(patient, ipp="Q"),
        EhrCreated(ehr_id=ehr, system_id="hygie", time_created=datetime.now(UTC), subject=subject),
        committed(ehr, composition(blood_pressure(120, 80))),
    )
    await eventually(lambda: rows(omop, "SELECT 1 FROM omop.measurement"))
    await publish(status(False, 2))

    async def count():
        return (await rows(omop, "SELECT count(*) AS n FROM omop.measurement"))[0]["n"]

    async def gone():
        return await count() == 0 or None

    await eventually(gone)
    await publish(status(True, 3))

    async def back():
        return await count() == 2 or None

    await eventually(back)
