"""A generation built by several writer processes (``ParallelBuild``) holds exactly the rows,
lineage and problems a single writer builds from the same events: patients with EHRs on
different partitions of the clinical topic, compositions held until their patient is
registered, merges, an unmerge, new versions, deletions, an erasure and a terminology
change; and a parallel build cancelled midway resumes from its checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text

from hygie_contracts import Event
from hygie_contracts.ehr import EHR_TOPIC, AuditDetails, EhrStatusUpdated, PartyRef
from hygie_contracts.patient import PatientMerged, PatientUnmerged
from hygie_contracts.terminology import ConceptMapChanged
from hygie_omop_projection.adapters import generations as gens
from hygie_omop_projection.adapters.cdm import CDM_TABLES, CLINICAL_TABLES, PRIMARY_KEYS
from hygie_omop_projection.adapters.translator import TableTranslator
from hygie_omop_projection.adapters.writers import writer_lock
from hygie_omop_projection.bootstrap import spec_with
from hygie_omop_projection.domain.mapper import Concept
from hygie_omop_projection.domain.mappings import load_mappings
from hygie_omop_projection.entrypoints.parallel import ParallelBuild
from hygie_omop_projection.entrypoints.runner import GenerationRunner
from hygie_omop_projection.service.generations import SOURCE_TOPICS
from hygie_omop_projection.service.project import Projector
from hygie_omop_projection.testing import (
    blood_pressure,
    coded,
    committed,
    death_summary,
    deleted,
    element,
    encounter,
    erased,
    lab_result,
    problem,
    quantity,
    registered,
)
from hygie_platform import kafka
from hygie_platform.db import create_engine, ensure_database, migrate
from hygie_platform.service import ServiceRuntime
from hygie_platform.testing import eventually
from hygie_platform.uow import UnitOfWorkFactory

from .conftest import KEY

IPP = "urn:oid:1.2.250.1.71.4.2.7"
PARTITIONS = 3  # the test settings' ``topic_partitions``
WRITERS = 3
#: translations of the codes used; ("LOINC", "9999-9") and ("ICD10", "Z99.9") stay unmapped
TABLE = {
    ("UCUM", "mg/dL"): Concept(8840, 8840),
    ("LOINC", "2345-7"): Concept(3004501, 3004501),
    ("LOINC", "2160-0"): Concept(3016723, 3016723),
    ("ICD10", "E11.9"): Concept(201826, 45576876),
    ("ICD10", "I10"): Concept(320128, 45591453),
    ("ATC", "A10BA02"): Concept(1503297, 21600713),
    ("SNOMED", "80146002"): Concept(4198190, 4198190),
}
STATE = {  # the projection's own state tables, compared too
    "patient": "patient_id", "ehr": "ehr_id", "composition": "versioned_object_id",
    "lineage": "omop_table, omop_id", "problem": "versioned_object_id, n",
}  # fmt: skip


def _partition(ehr: UUID) -> int:
    """The clinical partition of an EHR's events (the topic is keyed by EHR id)."""
    every = list(range(PARTITIONS))
    return int(DefaultPartitioner()(str(ehr).encode(), every, every))


def _ehrs(*partitions: int, start: int) -> list[UUID]:
    """EHR ids landing on these partitions (deterministic, distinct per ``start``)."""
    out, n = [], start
    for wanted in partitions:
        while _partition(UUID(int=n)) != wanted:
            n += 1
        out.append(UUID(int=n))
        n += 1
    return out


def _medication(atc: str) -> dict[str, Any]:
    tree = {"_type": "ITEM_TREE", "archetype_node_id": "at0002",
            "items": [element("at0070", coded("ATC", atc))]}  # fmt: skip
    return {
        "_type": "INSTRUCTION",
        "archetype_node_id": "openEHR-EHR-INSTRUCTION.medication_order.v3",
        "activities": [{"_type": "ACTIVITY", "archetype_node_id": "at0001", "description": tree}],
    }


def _procedure(snomed: str, when: str) -> dict[str, Any]:
    return {"_type": "ACTION", "archetype_node_id": "openEHR-EHR-ACTION.procedure.v1",
            "time": {"_type": "DV_DATE_TIME", "value": when},
            "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0001",
                            "items": [element("at0002", coded("SNOMED-CT", snomed))]}}  # fmt: skip


def _body(k: int) -> dict[str, Any]:
    """The k-th composition: five kinds in turn, a day apart (periods differ per person)."""
    day = date(2024, 1 + k % 12, 1 + k % 27).isoformat()
    when, end = f"{day}T09:00:00Z", f"{day}T11:00:00Z"
    kind = k % 5
    if kind == 0:
        entries = [blood_pressure(110 + k, 70 + k % 20, when)]
    elif kind == 1:
        loinc = "9999-9" if k % 3 == 0 else "2160-0"
        entries = [lab_result([("2345-7", quantity(90 + k, "mg/dL")),
                               (loinc, quantity(1.1, "mg/dL"))], when)]  # fmt: skip
    elif kind == 2:
        entries = [problem("ICD10", "Z99.9" if k % 4 == 0 else "E11.9", day)]
    elif kind == 3:
        entries = [_medication("A10BA02"), _procedure("80146002", when)]
    else:
        entries = [problem("ICD10", "I10", day), blood_pressure(150, 95, when)]
    return encounter(*entries, start=when, end=end)


class _History:
    """Events of several patients; ``k`` numbers the compositions (their bodies, ids)."""

    def __init__(self) -> None:
        self.k = 0
        self.events: list[Event] = []

    def commit(self, ehr: UUID, ipp: str, *, voi: UUID | None = None, version: int = 1,
               body: dict[str, Any] | None = None) -> UUID:  # fmt: skip
        self.k += 1
        event = committed(ehr, body or _body(self.k), voi=voi or UUID(int=10**6 + self.k),
                          version=version, subject=(IPP, ipp))  # fmt: skip
        self.events.append(event)
        return UUID(event.version_uid.split("::")[0])


def _patients(n: int) -> list[UUID]:
    return [UUID(int=(1 << 64) + i) for i in range(n)]


def _history(more: int = 0) -> tuple[list[Event], list[Event]]:
    """(events, events published later): 6 patients, 2 with EHRs on two partitions; the
    later part registers a patient after its compositions, merges, unmerges, re-versions,
    deletes, erases and changes a concept map. ``more``: compositions added per EHR."""
    p = _patients(6)
    a, b, c, d, e, f, g, h, i = _ehrs(0, 1, 1, 2, 2, 0, 1, 2, 0, start=1)
    assert {_partition(x) for x in (a, b, c, d, e, f, g, h, i)} == set(range(PARTITIONS))
    first, later = _History(), _History()
    first.events += [registered(p[0], ipp="P0"), registered(p[1], ipp="P1", sex="male"),
                     registered(p[3], ipp="P3", birth=date(1980, 2, 3)),
                     registered(p[4], ipp="P4", birth=date(1955, 7, 8), sex="male"),
                     registered(p[5], ipp="P5", death=date(2024, 11, 30))]  # fmt: skip
    for _ in range(3 + more):  # P0: EHRs a and b on partitions 0 and 1; P1: c and d on 1 and 2
        first.commit(a, "P0"), first.commit(b, "P0"), first.commit(c, "P1"), first.commit(d, "P1")
    for _ in range(2 + more):  # P2 (registered later): e; P3: f; P4: g; P5: h and i
        first.commit(e, "P2"), first.commit(f, "P3"), first.commit(g, "P4")
        first.commit(h, "P5"), first.commit(i, "P5")
    revised = first.commit(h, "P5")
    gone = first.commit(a, "P0")
    first.commit(d, "P1", body=encounter(death_summary("2024-12-01T08:00:00Z")))
    later.k = 500
    later.events += [
        registered(p[2], ipp="P2", birth=date(1990, 4, 5)),  # its compositions were held
        PatientMerged(patient_id=p[3], survivor_id=p[0]),  # P3's EHR f now feeds P0
        PatientMerged(patient_id=p[4], survivor_id=p[1]),
        PatientUnmerged(patient_id=p[4], previous_survivor_id=p[1]),
        ConceptMapChanged(
            source_system="http://loinc.org",
            url="urn:cm:loinc",
            change="replaced",
            changed_source_codes=("9999-9", "2160-0"),
        ),
    ]
    later.commit(h, "P5", voi=revised, version=2)
    later.events.append(deleted(a, gone, 1))
    later.events.append(erased(i, subject=(IPP, "P5")))
    later.commit(e, "P2"), later.commit(b, "P0"), later.commit(f, "P3")
    # P1's EHR c moves to P4 (an EHR_STATUS with a new subject): P1's period shrinks
    later.events.append(_status(c, "P4"))
    return first.events, later.events


def _status(ehr: UUID, ipp: str) -> Event:
    """A new EHR_STATUS naming another subject."""
    audit = AuditDetails(system_id="hygie", time_committed=datetime.now(UTC),
                         change_type="modification", committer="tester")  # fmt: skip
    return EhrStatusUpdated(
        ehr_id=ehr, version_uid=f"{ehr}::hygie::2", preceding_version_uid=f"{ehr}::hygie::1",
        contribution_id=uuid4(), subject=PartyRef(namespace=IPP, id=ipp), audit=audit,
        ehr_status={},
    )  # fmt: skip


@pytest.fixture
async def uow(hygie_settings):
    """The projection's migrated database, without its service (no serving generation),
    and its source topics."""
    spec = spec_with()
    database = ServiceRuntime(spec, hygie_settings).database
    await ensure_database(hygie_settings, database)
    engine = create_engine(hygie_settings, database)
    await migrate(engine, service=spec.name, migrations=spec.migrations)
    # the source topics with the settings' partitions (a publish first would let the broker
    # create them with its own default count)
    await kafka.ensure_topics(hygie_settings, SOURCE_TOPICS)
    try:
        yield UnitOfWorkFactory(engine, source="/hygie/omop_projection")
    finally:
        await engine.dispose()


async def _generation(uow: UnitOfWorkFactory) -> Projector:
    async with uow() as u:
        generation = await gens.create_generation(u.connection, state="building")
    return Projector(
        schema=generation.schema, generation=generation.generation, mappings=load_mappings(),
        translator=TableTranslator(TABLE), key=KEY, publish=False,
    )  # fmt: skip


async def _single(settings, uow: UnitOfWorkFactory, total: int) -> str:  # type: ignore[no-untyped-def]
    """A generation built by one ``GenerationRunner`` from the ``total`` events; its schema."""
    projector = await _generation(uow)
    runner = GenerationRunner(settings, uow, projector, SOURCE_TOPICS)
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: _applied(runner, total), timeout=40)
    finally:
        await _cancel(task)
    assert runner.progress.dead_lettered == 0
    return projector.schema


async def _parallel(settings, uow, projector: Projector, total: int) -> ParallelBuild:  # type: ignore[no-untyped-def]
    """A ``ParallelBuild`` of the projector's generation run until it caught up and stopped."""
    build = ParallelBuild(settings, uow, projector, SOURCE_TOPICS, writers=WRITERS)
    task = asyncio.create_task(build.run())
    try:
        await eventually(lambda: _finished(task), timeout=60)
        task.result()
    finally:
        await _cancel(task)
    assert build.progress.caught_up, build.progress.last_error
    assert build.progress.dead_lettered == 0
    assert build.progress.applied == total, build.progress.last_error
    return build


async def _applied(runner: GenerationRunner | ParallelBuild, total: int) -> bool | None:
    p = runner.progress
    return p.applied + p.dead_lettered >= total or None


async def _finished(task: asyncio.Task[None]) -> bool | None:
    return task.done() or None


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _fetch(uow: UnitOfWorkFactory, sql: str) -> list[dict[str, Any]]:
    async with uow() as u:
        return [dict(r) for r in (await u.connection.execute(text(sql))).mappings()]


async def _contents(uow: UnitOfWorkFactory, schema: str) -> dict[str, list[dict[str, Any]]]:
    """Every CDM table's rows and the state (lineage, problems, patients, EHRs,
    compositions) of a generation, ordered by primary key."""
    out = {}
    for table in CDM_TABLES:
        if table != "cdm_source":  # written at the swap
            order = "person_id" if table == "death" else PRIMARY_KEYS[table]
            out[table] = await _fetch(uow, f"SELECT * FROM {schema}.{table} ORDER BY {order}")
    for table, order in STATE.items():
        out[table] = await _fetch(uow, f"SELECT * FROM {schema}.{table} ORDER BY {order}")
    return out


def _differences(one: dict[str, list[Any]], other: dict[str, list[Any]]) -> dict[str, Any]:
    """Per table, the rows only in one generation and only in the other."""
    out = {}
    for table in one:
        left = [r for r in one[table] if r not in other[table]]
        right = [r for r in other[table] if r not in one[table]]
        if left or right or len(one[table]) != len(other[table]):
            out[table] = {"single only": left, "parallel only": right}
    return out


async def _clinical_offsets(uow: UnitOfWorkFactory, schema: str, settings) -> dict[int, int]:  # type: ignore[no-untyped-def]
    rows = await _fetch(uow, f"SELECT topic, partition, next_offset FROM {schema}.checkpoint")
    topic = settings.topic(EHR_TOPIC)
    return {r["partition"]: r["next_offset"] for r in rows if r["topic"] == topic}


def _check_scenario(rows: dict[str, list[dict[str, Any]]]) -> None:
    """The history reached the paths it is meant to exercise (the comparison is not vacuous)."""
    # no built-in mapping writes ``observation`` rows
    wanted = [t for t in CLINICAL_TABLES if t != "observation"]
    for table in (*wanted, "person", "observation_period", "death", "problem"):
        assert rows[table], f"no {table} rows"
    assert len(rows["person"]) == 5  # P3 merged into P0; P4 unmerged again
    assert len(rows["death"]) == 2  # P5 from the patient index, P1 from a death summary
    held = [r for r in rows["ehr"] if r["subject_id"] == "P2"]
    assert held  # released once P2 was registered
    assert held[0]["person_id"] is not None
    merged = {r["person_id"] for r in rows["ehr"] if r["subject_id"] in ("P0", "P3")}
    assert len(merged) == 1
    assert len([r for r in rows["ehr"] if r["subject_id"] == "P5"]) == 1  # one EHR erased
    assert [r["deleted"] for r in rows["composition"]].count(True) == 1


async def test_three_writers_build_the_rows_one_writer_builds(hygie_settings, uow, publish):
    first, later = _history()
    # the held compositions come first: P2's registration follows them on its topic
    await publish(*first, *later)
    total = len(first) + len(later)
    single = await _single(hygie_settings, uow, total)
    projector = await _generation(uow)
    await _parallel(hygie_settings, uow, projector, total)
    offsets = await _clinical_offsets(uow, projector.schema, hygie_settings)
    assert sorted(offsets) == list(range(PARTITIONS))
    assert all(offsets.values())
    expected = await _contents(uow, single)
    _check_scenario(expected)
    got = await _contents(uow, projector.schema)
    assert _differences(expected, got) == {}


async def test_a_cancelled_parallel_build_resumes_to_the_same_rows(hygie_settings, uow, publish):
    # one event per transaction, ~30 per writer: a build takes a few seconds
    settings = hygie_settings.model_copy(update={"consumer_batch_size": 1})
    first, later = _history(more=8)
    await publish(*first)
    projector = await _generation(uow)
    build = ParallelBuild(settings, uow, projector, SOURCE_TOPICS, writers=WRITERS)
    task = asyncio.create_task(build.run())

    async def every_writer_started() -> dict[int, int] | None:
        found = await _clinical_offsets(uow, projector.schema, settings)
        return found if len(found) == PARTITIONS else None

    try:  # once each writer committed clinical events, they are stopped where they are
        await eventually(every_writer_started, timeout=40, interval=0.02)
        async with uow() as u:  # held alone, the writer lock lets no writer go on
            await writer_lock(u.connection, projector.schema, projector.generation, alone=True)
            await _cancel(task)
    finally:
        await _cancel(task)
    done = await _clinical_offsets(uow, projector.schema, settings)
    clinical = sum(1 for e in first if e.topic == EHR_TOPIC)
    assert 0 < sum(done.values()) < clinical, "not cancelled midway"
    resumed = await _parallel(settings, uow, projector, clinical - sum(done.values()))
    assert resumed.progress.applied < len(first)
    held = await _fetch(uow, f"SELECT e.person_id, count(l.omop_id) AS n FROM {projector.schema}"
                             f".ehr e LEFT JOIN {projector.schema}.lineage l USING (ehr_id) "
                             "WHERE e.subject_id = 'P2' GROUP BY 1")  # fmt: skip
    assert held == [{"person_id": None, "n": 0}]  # P2 is not registered yet
    # later events on a built generation: a third build resumes from the checkpoints
    await publish(*later)
    await _parallel(settings, uow, projector, len(later))
    single = await _single(hygie_settings, uow, len(first) + len(later))
    expected = await _contents(uow, single)
    _check_scenario(expected)
    assert _differences(expected, await _contents(uow, projector.schema)) == {}
