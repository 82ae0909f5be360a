"""The ingest topic ``hygie.ingest.patient.v1`` on the real broker: the same rules as the
API; a record breaking them is dead-lettered and nothing is stored."""

from hygie_contracts.patient import (
    INGEST_PATIENT_TOPIC,
    InsIdentifier,
    PatientIdentifier,
    PatientRecorded,
    PatientReplaced,
)
from hygie_patient_index.bootstrap import SPEC
from hygie_patient_index.testing import IPP_A, IPP_B, nir
from hygie_platform import kafka
from hygie_platform.envelope import envelope_for
from hygie_platform.testing import eventually, start_service


async def publish(settings, *events):
    producer = kafka.producer(settings)
    await producer.start()
    try:
        for event in events:
            env = envelope_for(event, source="/admission/site-a")
            await producer.send_and_wait(
                settings.topic(INGEST_PATIENT_TOPIC),
                key=env.key,
                value=env.data,
                headers=env.headers(),
            )
    finally:
        await producer.stop()


def recorded(value, system=IPP_A, **kw):
    base = {
        "identifier": PatientIdentifier(system=system, value=value),
        "birth_family_name": "Dupont",
        "birth_given_names": ("Marie",),
        "sex": "female",
        "birth_date": "1985-05-12",
        "birth_place_code": "75056",
    }
    return PatientRecorded(**(base | kw))


async def test_ingested_registrations_are_matched_and_announced(hygie_settings):
    async with start_service(SPEC, hygie_settings) as mpi:
        bad = recorded(
            "A9",
            ins=InsIdentifier(matricule=nir()[:13] + "00", oid="1.2.250.1.213.1.4.8"),
            identity_status="RECUP",
        )
        await publish(hygie_settings, recorded("A1"), bad, recorded("B1", IPP_B))
        rows = await eventually(lambda: _two_sources(mpi), timeout=30)
        assert rows[0]["golden_id"] == rows[1]["golden_id"]
        runner = mpi.runtime.runners[0]
        await eventually(lambda: _dead_lettered(runner), timeout=30)
        assert await mpi.fetch("SELECT * FROM source_record WHERE value = 'A9'") == []
        published = await eventually(
            lambda: mpi.fetch("SELECT event_type FROM journal WHERE published_at IS NOT NULL"),
            timeout=30,
        )
        assert "hygie.patient.patient.registered.v1" in {r["event_type"] for r in published}


async def test_ingested_replacement_merges(hygie_settings):
    async with start_service(SPEC, hygie_settings) as mpi:
        other = recorded(
            "A2",
            birth_family_name="Bernard",
            birth_given_names=("Luc",),
            sex="male",
            birth_date="1950-01-02",
        )
        await publish(hygie_settings, recorded("A1"), other)
        await eventually(lambda: _count(mpi, "golden_record WHERE active", 2), timeout=30)
        await publish(
            hygie_settings,
            PatientReplaced(
                identifier=PatientIdentifier(system=IPP_A, value="A2"),
                replaced_by=PatientIdentifier(system=IPP_A, value="A1"),
            ),
        )
        await eventually(lambda: _count(mpi, "golden_record WHERE active", 1), timeout=30)


async def _two_sources(mpi):
    rows = await mpi.fetch("SELECT value, golden_id FROM source_record ORDER BY value")
    return rows if len(rows) == 2 else None


async def _dead_lettered(runner):
    return runner.status.dead_lettered >= 1


async def _count(mpi, where, n):
    rows = await mpi.fetch(f"SELECT count(*) AS n FROM {where}")
    return rows[0]["n"] == n
