"""OMOP projection benchmark: rebuild throughput, ratio to a raw COPY, live lag, DQ run time.

Targets (issue 9): rebuild from 1,000,000 clinical events (compositions of the mapped
archetypes for ~20,000 patients) at ≥ 5,000 events/s, ratio to a raw PostgreSQL COPY of
the same OMOP rows measured in the same run ≥ 0.25; live lag p99 < 2 s from composition
commit to OMOP row at 200 commits/s; DQ run on that data < 2 min.

- **rebuild**: N ``CompositionCommitted`` events (five kinds of encounter compositions
  rotating: vital signs, anthropometry, laboratory results, diagnosis + procedure,
  medication order + statement; ~4.4 OMOP rows each) for N/50 patients (their
  ``PatientRegistered`` first) are put on the topics; then a fresh generation is built
  exactly as ``hygie omop rebuild`` builds one (``GenerationRunner`` from offset 0, no
  change stream, the checkpoint in the same transaction as the rows) and the clock runs
  until it has caught up. Codes are translated by an in-process table (the terminology
  service's HTTP batch translate is not part of the measure; answers are cached anyway).
- **raw COPY**: the CDM rows the rebuild produced are read back and COPYed (binary) into a
  fresh schema with the same DDL (keys, indexes); raw = N / COPY time; ratio = rebuild / raw.
- **live lag**: a second projection (its own database and topics) runs as a service
  (serving generation, change stream journaled, relay on); 200 patients are registered,
  then compositions are sent at 200/s; the lag of each is from its send (the EHR store's
  relay publishing the commit is not included) to its first lineage row, polled every 20 ms.
- **DQ**: ``run_checks`` of the DQD definitions on the rebuilt generation.

``python -m bench omop [--events N] [--live-seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from . import infra, standalone
from .machine import load_average, machine_info

DEFAULT_EVENTS = 1_000_000
PER_PATIENT = 50
TARGETS = {"rebuild_per_s": 5_000, "ratio": 0.25, "live_lag_p99_s": 2.0, "dq_s": 120.0}
KEY = b"bench-pseudonym-key-0123456789abcd"
IPP = "urn:oid:1.2.250.1.71.4.2.7"
DQD = Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance" / "omop" / "dqd"

LOINC = [f"{2000 + i}-{i % 10}" for i in range(40)]
ICD10 = [f"E{10 + i}.{i % 10}" for i in range(30)]
ATC = [f"A10B{chr(65 + i % 26)}{i:02d}" for i in range(20)]
SNOMED = [str(80146002 + i) for i in range(20)]


def _concepts() -> dict[tuple[str, str], Any]:
    """Translations of the codes used (one in 20 left unmapped, as in real feeds)."""
    from hygie_omop_projection.domain.mapper import Concept

    table: dict[tuple[str, str], Any] = {("UCUM", "mg/dL"): Concept(8840, 8840)}
    for vocabulary, codes, base in (
        ("LOINC", LOINC, 3_000_000),
        ("ICD10", ICD10, 200_000),
        ("ATC", ATC, 1_500_000),
        ("SNOMED", SNOMED, 4_100_000),
    ):
        for i, code in enumerate(codes):
            if i % 20 != 19:
                table[(vocabulary, code)] = Concept(base + i, base + i)
    return table


def _when(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{(hour * 7) % 60:02d}:00Z"


LAB = "openEHR-EHR-CLUSTER.laboratory_test_analyte.v1"
DIAGNOSIS = "openEHR-EHR-EVALUATION.problem_diagnosis.v1"
ORDER = "openEHR-EHR-INSTRUCTION.medication_order.v3"


def _obs(archetype: str, ids: tuple[str, str, str], items: list[Any], when: str) -> Any:
    history, event, tree = ids
    return {
        "_type": "OBSERVATION",
        "archetype_node_id": archetype,
        "data": {
            "_type": "HISTORY",
            "archetype_node_id": history,
            "events": [
                {
                    "_type": "POINT_EVENT",
                    "archetype_node_id": event,
                    "time": {"_type": "DV_DATE_TIME", "value": when},
                    "data": {"_type": "ITEM_TREE", "archetype_node_id": tree, "items": items},
                }
            ],
        },
    }


def clinical_composition(k: int, rng: random.Random, day: date) -> dict[str, Any]:
    """One encounter composition of the k-th kind (mod 5) for a day."""
    from hygie_omop_projection.testing import coded, composition, element, quantity

    when = _when(day, 8 + k % 10)
    dt = {"_type": "DV_DATE_TIME", "value": when}
    kind = k % 5
    if kind == 0:  # vital signs: 6 measurements
        entries = [
            _obs("openEHR-EHR-OBSERVATION.blood_pressure.v2", ("at0001", "at0006", "at0003"),
                 [element("at0004", quantity(rng.randint(95, 170), "mm[Hg]")),
                  element("at0005", quantity(rng.randint(55, 100), "mm[Hg]"))], when),
            _obs("openEHR-EHR-OBSERVATION.pulse.v2", ("at0002", "at0003", "at0001"),
                 [element("at0004", quantity(rng.randint(50, 120), "/min"))], when),
            _obs("openEHR-EHR-OBSERVATION.body_temperature.v2", ("at0002", "at0003", "at0001"),
                 [element("at0004", quantity(round(rng.uniform(36, 39.5), 1), "Cel"))], when),
            _obs("openEHR-EHR-OBSERVATION.pulse_oximetry.v1", ("at0001", "at0002", "at0003"),
                 [element("at0006", {"_type": "DV_PROPORTION", "numerator": rng.randint(88, 100),
                                     "denominator": 100, "type": 2})], when),
            _obs("openEHR-EHR-OBSERVATION.respiration.v2", ("at0001", "at0002", "at0003"),
                 [element("at0004", quantity(rng.randint(10, 30), "/min"))], when),
        ]  # fmt: skip
    elif kind == 1:  # anthropometry: 3 measurements
        weight, height = round(rng.uniform(45, 120), 1), rng.randint(150, 195)
        entries = [
            _obs("openEHR-EHR-OBSERVATION.body_weight.v2", ("at0002", "at0003", "at0001"),
                 [element("at0004", quantity(weight, "kg"))], when),
            _obs("openEHR-EHR-OBSERVATION.height.v2", ("at0001", "at0002", "at0003"),
                 [element("at0004", quantity(height, "cm"))], when),
            _obs("openEHR-EHR-OBSERVATION.body_mass_index.v2", ("at0001", "at0002", "at0003"),
                 [element("at0004", quantity(round(weight / (height / 100) ** 2, 1), "kg/m2"))],
                 when),
        ]  # fmt: skip
    elif kind == 2:  # laboratory: 4 analytes, LOINC translated
        clusters = [
            {"_type": "CLUSTER", "archetype_node_id": LAB,
             "items": [element("at0024", coded("LOINC", rng.choice(LOINC))),
                       element("at0001", quantity(round(rng.uniform(50, 200), 1), "mg/dL"))]}
            for _ in range(4)
        ]  # fmt: skip
        entries = [
            _obs("openEHR-EHR-OBSERVATION.laboratory_test_result.v1",
                 ("at0001", "at0002", "at0003"), clusters, when)
        ]  # fmt: skip
    elif kind == 3:  # diagnosis + procedure
        entries = [
            {"_type": "EVALUATION", "archetype_node_id": DIAGNOSIS,
             "data": {"_type": "ITEM_TREE", "archetype_node_id": "at0001", "items": [
                 element("at0002", coded("ICD10", rng.choice(ICD10))),
                 element("at0077", dt)]}},
            {"_type": "ACTION", "archetype_node_id": "openEHR-EHR-ACTION.procedure.v1",
             "time": dt, "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0001",
                                         "items": [element("at0002", coded("SNOMED-CT",
                                                                           rng.choice(SNOMED)))]}},
        ]  # fmt: skip
    else:  # medication order + statement
        entries = [
            {"_type": "INSTRUCTION", "archetype_node_id": ORDER,
             "activities": [{"_type": "ACTIVITY", "archetype_node_id": "at0001",
                             "description": {"_type": "ITEM_TREE", "archetype_node_id": "at0002",
                                             "items": [element("at0070",
                                                               coded("ATC", rng.choice(ATC)))]}}]},
            _obs("openEHR-EHR-OBSERVATION.medication_statement.v0", ("at0001", "at0002", "at0003"),
                 [element("at0006", coded("SNOMED-CT", rng.choice(SNOMED)))], when),
        ]  # fmt: skip
    end = _when(day, 8 + k % 10 + 1)
    return composition(*entries, start=when, end=end, setting="238")


async def _produce(settings: Any, n: int, console: Console) -> tuple[int, int]:
    """N/50 patients then N compositions (50 per patient, in patient order per EHR key)."""
    from hygie_contracts.patient import PatientIdentifier, PatientRegistered
    from hygie_omop_projection.testing import committed
    from hygie_platform import kafka
    from hygie_platform.envelope import envelope_for

    producer = kafka.producer(settings)
    await producer.start()
    rng = random.Random(9)
    patients = max(1, n // PER_PATIENT)
    sent = 0
    try:
        pending = []
        for p in range(patients):
            event = PatientRegistered(
                patient_id=uuid.UUID(int=p + 1),
                identifiers=(PatientIdentifier(system=IPP, value=f"P{p}"),),
                birth_date=date(1940 + p % 60, 1 + p % 12, 1 + p % 28),
                sex="female" if p % 2 else "male",
            )
            env = envelope_for(event, source="/hygie/patient_index")
            topic = settings.topic(event.topic)
            pending.append(
                await producer.send(topic, key=env.key, value=env.data, headers=env.headers())
            )
        await asyncio.gather(*pending)
        pending = []
        for i in range(n):
            p = i % patients
            day = date(2015, 1, 1) + timedelta(days=(i // patients) * 30 + p % 30)
            body = clinical_composition(i, rng, day)
            event = committed(uuid.UUID(int=10**9 + p), body, voi=uuid.UUID(int=2 * 10**9 + i),
                              subject=(IPP, f"P{p}"))  # fmt: skip
            env = envelope_for(event, source="/hygie/ehr")
            pending.append(
                await producer.send(
                    settings.topic(event.topic), key=env.key, value=env.data,
                    headers=env.headers(),
                )
            )  # fmt: skip
            sent += len(env.data)
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
                console.print(f"  produced {i + 1:,} compositions", end="\r")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return patients, sent


async def _copy_baseline(conn: Any, schema: str, tables: list[str]) -> tuple[float, int]:
    """COPY (binary) the CDM rows of a generation into a fresh schema with the same DDL."""
    from hygie_omop_projection.adapters.cdm import CDM_TABLES, generation_ddl

    records: dict[str, list[Any]] = {}
    for table in tables:
        records[table] = [tuple(r) for r in await conn.fetch(f"SELECT * FROM {schema}.{table}")]
    await conn.execute("DROP SCHEMA IF EXISTS omop_raw CASCADE")
    for statement in generation_ddl("omop_raw"):
        await conn.execute(statement)
    started = time.perf_counter()
    async with conn.transaction():
        for table in tables:
            await conn.copy_records_to_table(
                table,
                schema_name="omop_raw",
                records=records[table],
                columns=[c for c, _, _ in CDM_TABLES[table]],
            )
    took = time.perf_counter() - started
    rows = sum(len(v) for v in records.values())
    await conn.execute("DROP SCHEMA omop_raw CASCADE")
    return took, rows


async def _rebuild(settings: Any, n: int, patients: int, console: Console) -> dict[str, Any]:
    import asyncpg

    from hygie_omop_projection.adapters import generations as gens
    from hygie_omop_projection.adapters.cdm import CLINICAL_TABLES
    from hygie_omop_projection.adapters.translator import TableTranslator
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_omop_projection.domain.mappings import load_mappings
    from hygie_omop_projection.entrypoints.runner import GenerationRunner
    from hygie_omop_projection.service.generations import SOURCE_TOPICS
    from hygie_omop_projection.service.project import Projector
    from hygie_platform.db import asyncpg_dsn, create_engine, ensure_database, migrate
    from hygie_platform.service import ServiceRuntime
    from hygie_platform.uow import UnitOfWorkFactory

    spec = spec_with()
    runtime = ServiceRuntime(spec, settings)  # for its database name and dsn only
    await ensure_database(settings, runtime.database)
    engine = create_engine(settings, runtime.database)
    await migrate(engine, service=spec.name, migrations=spec.migrations)
    uow = UnitOfWorkFactory(engine, source="/hygie/omop_projection")
    async with uow() as u:
        generation = await gens.create_generation(u.connection, state="building")
    translator = TableTranslator(_concepts())
    projector = Projector(
        schema=generation.schema, generation=generation.generation, mappings=load_mappings(),
        translator=translator, key=KEY, publish=False,
    )  # fmt: skip
    runner = GenerationRunner(settings, uow, projector, SOURCE_TOPICS)
    total = n + patients
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    try:
        # the count of events, not the runner's "caught up": the embedded broker's end
        # offsets lag behind what it serves, so a lag of 0 can come before the last records
        shown = started
        while runner.progress.applied + runner.progress.dead_lettered < total:
            await asyncio.sleep(0.05)
            if time.perf_counter() - shown >= 5:
                shown = time.perf_counter()
                p = runner.progress.as_dict()
                console.print(
                    f"  rebuild: {p['events_applied']:,} of {total:,} events, "
                    f"{p['events_per_second']:,}/s, ETA "
                    f"{(total - runner.progress.applied) / max(p['events_per_second'], 1):.0f} s"  # type: ignore[arg-type]
                )
                if runner.progress.last_error:
                    console.print(f"  [red]{runner.progress.last_error}")
    finally:
        took = time.perf_counter() - started
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    applied = runner.progress.applied
    conn = await asyncpg.connect(asyncpg_dsn(runtime.dsn))
    try:
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM {generation.schema}.{t}")
            for t in ("person", *CLINICAL_TABLES, "observation_period", "death")
        }
        lineage = await conn.fetchval(f"SELECT count(*) FROM {generation.schema}.lineage")
        problems = await conn.fetchval(f"SELECT count(*) FROM {generation.schema}.problem")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        raw_s, raw_rows = await _copy_baseline(
            conn, generation.schema, ["person", *CLINICAL_TABLES, "observation_period"]
        )
    finally:
        await conn.close()
    rate = n / took
    raw = n / raw_s
    out = {
        "clinical_events": n,
        "patients": patients,
        "events_applied": applied,
        "seconds": round(took, 1),
        "clinical_events_per_s": round(rate),
        "omop_rows": counts,
        "lineage_rows": lineage,
        "problem_rows": problems,
        "database_bytes": size,
        "raw_copy": {
            "rows": raw_rows,
            "seconds": round(raw_s, 2),
            "clinical_events_per_s": round(raw),
            "rows_per_s": round(raw_rows / raw_s),
        },
        "ratio": round(rate / raw, 3),
        "translate_calls": translator.calls,
        "dead_lettered": runner.progress.dead_lettered,
        "last_error": runner.progress.last_error,
        "phases": runner.progress.phases.as_dict(),
        "load_average_after": load_average(),
    }
    out["_engine"] = engine
    out["_schema"] = generation.schema
    return out


async def _dq(engine: Any, schema: str) -> dict[str, Any]:
    from hygie_omop_projection.service.dq import as_json, run_checks

    run_date = date(2025, 1, 1)
    async with engine.connect() as conn:
        started = time.perf_counter()
        results = await run_checks(conn, schema, DQD, run_date=run_date)
        took = time.perf_counter() - started
    report = as_json(results, run_date=run_date, schema=schema)
    return {"seconds": round(took, 1), "checks": len(results), "summary": report.get("summary")}


async def _live(settings: Any, seconds: float, rate: int, console: Console) -> dict[str, Any]:
    import asyncpg

    from hygie_contracts.patient import PatientIdentifier, PatientRegistered
    from hygie_omop_projection.adapters.translator import TableTranslator
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_omop_projection.testing import committed
    from hygie_platform import kafka
    from hygie_platform.db import asyncpg_dsn
    from hygie_platform.envelope import envelope_for
    from hygie_platform.service import ServiceRuntime

    runtime = ServiceRuntime(spec_with(translator=TableTranslator(_concepts()), key=KEY), settings)
    await runtime.prepare()
    runtime.start()
    producer = kafka.producer(settings)
    await producer.start()
    conn = await asyncpg.connect(asyncpg_dsn(runtime.dsn))
    rng = random.Random(11)
    patients = 200
    sent_at: dict[str, float] = {}
    lags: list[float] = []
    try:
        for p in range(patients):
            event = PatientRegistered(
                patient_id=uuid.UUID(int=p + 1),
                identifiers=(PatientIdentifier(system=IPP, value=f"L{p}"),),
                birth_date=date(1950, 1, 1), sex="female",
            )  # fmt: skip
            env = envelope_for(event, source="/hygie/patient_index")
            await producer.send(
                settings.topic(event.topic), key=env.key, value=env.data, headers=env.headers()
            )
        await producer.flush()
        while True:
            schema = await conn.fetchval(
                "SELECT schema_name FROM omop_generation WHERE state = 'serving'"
            )
            if schema and await conn.fetchval(
                f"SELECT count(*) FROM {schema}.patient"
            ) >= patients:  # fmt: skip
                break
            await asyncio.sleep(0.2)
        stop = asyncio.Event()

        async def poll() -> None:
            while not stop.is_set() or sent_at:
                if sent_at:
                    found = await conn.fetch(
                        f"SELECT DISTINCT versioned_object_id FROM {schema}.lineage "
                        "WHERE versioned_object_id = ANY($1::text[])",
                        list(sent_at),
                    )
                    now = time.perf_counter()
                    for r in found:
                        lags.append(now - sent_at.pop(r[0]))
                await asyncio.sleep(0.02)
                if stop.is_set() and time.perf_counter() - stopped > 30:
                    break

        poller = asyncio.create_task(poll())
        total = int(seconds * rate)
        begin = time.perf_counter()
        for i in range(total):
            target = begin + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            p = i % patients
            voi = uuid.uuid4()
            body = clinical_composition(i, rng, date(2024, 1, 1) + timedelta(days=i % 300))
            event = committed(uuid.UUID(int=10**9 + p), body, voi=voi, subject=(IPP, f"L{p}"))
            env = envelope_for(event, source="/hygie/ehr")
            sent_at[str(voi)] = time.perf_counter()
            await producer.send(
                settings.topic(event.topic), key=env.key, value=env.data, headers=env.headers()
            )
        achieved = total / (time.perf_counter() - begin)
        stopped = time.perf_counter()
        stop.set()
        await poller
        missing = len(sent_at)
    finally:
        await conn.close()
        await producer.stop()
        await runtime.app.state.generations.stop()  # type: ignore[union-attr]
        await runtime.stop()
    lags.sort()

    def pct(q: float) -> float:
        return round(lags[min(len(lags) - 1, int(q * len(lags)))], 3) if lags else float("nan")

    console.print(f"live: p50 {pct(0.5)} s, p99 {pct(0.99)} s at {achieved:.0f} commits/s")
    return {
        "commits": total,
        "commits_per_s": round(achieved, 1),
        "seconds": seconds,
        "lag_p50_s": pct(0.5),
        "lag_p95_s": pct(0.95),
        "lag_p99_s": pct(0.99),
        "lag_max_s": round(lags[-1], 3) if lags else None,
        "mean_s": round(statistics.fmean(lags), 3) if lags else None,
        "not_projected": missing,
    }


def _settings(database_url: str, kafka: str, work: Path, tag: str) -> Any:
    from hygie_platform.config import Settings

    return Settings(
        database_url=database_url, kafka=kafka, database_prefix=f"hygie_bench_{tag}_",
        topic_prefix=f"bench{tag}.", home=work, log_json=False, log_level="WARNING",
        consumer_batch_size=int(os.environ.get("HYGIE_CONSUMER_BATCH_SIZE", "1000")),
    )  # fmt: skip


async def _bench(options: argparse.Namespace, console: Console, work: Path) -> dict[str, Any]:

    stops: list[Any] = []
    database_url, kafka = os.environ.get("HYGIE_DATABASE_URL"), os.environ.get("HYGIE_KAFKA")
    try:
        if database_url is None:
            database_url = infra.embedded_postgres(work, stops)
        if kafka is None:
            kafka = infra.embedded_broker(work, stops)
        n = options.events or DEFAULT_EVENTS
        out: dict[str, Any] = {"load_average_before": load_average()}
        settings = _settings(database_url, kafka, work, uuid.uuid4().hex[:6])
        console.print(f"producing {n:,} compositions for {max(1, n // PER_PATIENT):,} patients")
        t = time.perf_counter()
        patients, volume = await _produce(settings, n, console)
        console.print(f"\n  produced in {time.perf_counter() - t:.0f} s ({volume / 1e6:.0f} MB)")
        rebuild = await _rebuild(settings, n, patients, console)
        engine, schema = rebuild.pop("_engine"), rebuild.pop("_schema")
        out["rebuild"] = rebuild
        console.print(
            f"rebuild: {rebuild['clinical_events_per_s']:,}/s; raw COPY "
            f"{rebuild['raw_copy']['clinical_events_per_s']:,}/s; ratio {rebuild['ratio']}"
        )
        if DQD.exists():
            out["dq"] = await _dq(engine, schema)
            console.print(f"DQ: {out['dq']['seconds']} s")
        await engine.dispose()
        if options.live_seconds:
            live_settings = _settings(database_url, kafka, work, uuid.uuid4().hex[:6])
            out["live"] = await _live(live_settings, options.live_seconds, 200, console)
        out["target_met"] = {
            "rebuild": rebuild["clinical_events_per_s"] >= TARGETS["rebuild_per_s"],
            "ratio": rebuild["ratio"] >= TARGETS["ratio"],
            "live_lag_p99": "live" in out and out["live"]["lag_p99_s"] < TARGETS["live_lag_p99_s"],
            "dq": "dq" in out and out["dq"]["seconds"] < TARGETS["dq_s"],
            "correctness": rebuild["events_applied"] == n + patients
            and rebuild["dead_lettered"] == 0
            and rebuild["omop_rows"]["visit_occurrence"] == n
            and ("live" not in out or out["live"]["not_projected"] == 0),
        }
        out["targets"] = TARGETS
        out["machine"] = machine_info(
            broker="external" if os.environ.get("HYGIE_KAFKA") else "embedded Tansu",
            postgres={"durable": os.environ.get("HYGIE_DATABASE_URL") is None},
        )
        return out
    finally:
        infra.stop_all(stops)


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench omop``."""
    if getattr(options, "live_seconds", None) is None:
        options.live_seconds = 60.0
    with tempfile.TemporaryDirectory(prefix="hygie-bench-omop-") as work:
        return asyncio.run(_bench(options, console, Path(work)))


def main() -> None:
    parser = standalone.parser("omop", __doc__)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--live-seconds", type=float, default=None)
    standalone.main("omop", run, parser)


if __name__ == "__main__":
    main()
