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
  change stream, the checkpoint in the same transaction as the rows, UNLOGGED tables) and
  the clock runs until it has caught up and its tables are made durable (``SET LOGGED``,
  as the swap does). Codes are translated by an in-process table (the terminology
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
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from . import infra, standalone
from .machine import load_average, machine_info
from .omop_data import KEY, PER_PATIENT, _concepts, _produce
from .omop_live import _live

DEFAULT_EVENTS = 1_000_000
TARGETS = {"rebuild_per_s": 5_000, "ratio": 0.25, "live_lag_p99_s": 2.0, "dq_s": 120.0}
DQD = Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance" / "omop" / "dqd"


async def _copy_baseline(conn: Any, schema: str, tables: list[str]) -> tuple[float, int]:
    """COPY (binary) the CDM rows of a generation into a fresh schema with the same DDL."""
    from hygie_omop_projection.adapters.cdm import CDM_TABLES, generation_ddl

    await conn.execute("DROP SCHEMA IF EXISTS omop_raw CASCADE")
    for statement in generation_ddl("omop_raw"):
        await conn.execute(statement)
    # one table's rows in memory at a time (a million compositions give ~4.4M rows); only
    # the COPYs are timed, all in one transaction
    took, rows = 0.0, 0
    async with conn.transaction():
        for table in tables:
            records = [tuple(r) for r in await conn.fetch(f"SELECT * FROM {schema}.{table}")]
            started = time.perf_counter()
            await conn.copy_records_to_table(
                table, schema_name="omop_raw", records=records,
                columns=[c for c, _, _ in CDM_TABLES[table]],
            )  # fmt: skip
            took += time.perf_counter() - started
            rows += len(records)
            del records
        started = time.perf_counter()
    took += time.perf_counter() - started  # the commit
    await conn.execute("DROP SCHEMA omop_raw CASCADE")
    return took, rows


async def _copy_floor(conn: Any, schema: str, folder: Path) -> dict[str, Any]:
    """What any rebuild must at least cost: a binary COPY (from files, one transaction) of
    everything the rebuilt generation keeps durable — its CDM rows, and also its lineage,
    unmapped report, composition bodies, EHR and patient state, and the id map entries —
    against the same COPY of the CDM rows alone; their quotient bounds the ratio even if
    consuming, parsing and mapping the events cost nothing."""
    from hygie_omop_projection.adapters.cdm import CDM_TABLES, generation_ddl

    await conn.execute("DROP SCHEMA IF EXISTS omop_raw CASCADE")
    for statement in generation_ddl("omop_raw"):
        await conn.execute(statement)
    await conn.execute("CREATE TABLE omop_raw.omop_id_map (LIKE public.omop_id_map INCLUDING ALL)")
    tables = [
        r[0]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
            schema,
        )
    ]
    sources = {t: f"SELECT * FROM {schema}.{t}" for t in tables}
    sources["omop_id_map"] = "SELECT tbl, key, id FROM public.omop_id_map"
    seconds: dict[str, float] = {}
    async with conn.transaction():
        for table, query in sources.items():
            path = folder / f"{table}.copy"
            await conn.copy_from_query(query, output=path, format="binary")  # not timed
            columns = ["tbl", "key", "id"] if table == "omop_id_map" else None
            started = time.perf_counter()
            await conn.copy_to_table(
                table, schema_name="omop_raw", source=path, format="binary", columns=columns
            )
            seconds[table] = time.perf_counter() - started
            path.unlink()
        started = time.perf_counter()
    commit = time.perf_counter() - started
    await conn.execute("DROP SCHEMA omop_raw CASCADE")
    cdm = sum(v for t, v in seconds.items() if t in CDM_TABLES)
    everything = sum(seconds.values()) + commit
    return {
        "cdm_rows_seconds": round(cdm, 2),
        "everything_seconds": round(everything, 2),
        "ratio_ceiling": round(cdm / everything, 3),
        "seconds_per_table": {t: round(v, 2) for t, v in sorted(seconds.items())},
    }


def _workers_cpu(runner: Any) -> float:
    """CPU seconds used so far by the runner's mapping worker processes (0 with none)."""
    pool = getattr(getattr(runner, "pool", None), "_pool", None)
    ticks = 0
    for pid in list(getattr(pool, "_processes", None) or ()):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                ticks += sum(int(x) for x in stat.read().rsplit(")", 1)[1].split()[11:13])
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _postgres_cpu(pgdata: Path) -> float | None:
    """CPU seconds used so far by the embedded PostgreSQL (postmaster and live backends;
    exited backends are in the postmaster's children times); None when not embedded."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return None
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == postmaster or int(fields[1]) == postmaster:
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


async def _rebuild(
    settings: Any, n: int, patients: int, console: Console, pgdata: Path
) -> dict[str, Any]:
    import asyncpg

    from hygie_omop_projection.adapters import generations as gens
    from hygie_omop_projection.adapters.cdm import CLINICAL_TABLES
    from hygie_omop_projection.adapters.translator import TableTranslator
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_omop_projection.domain.mappings import load_mappings
    from hygie_omop_projection.entrypoints.parallel import ParallelBuild, rebuild_writers
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
    # as the service builds: ``rebuild_writers()`` processes (one per core by default;
    # BENCH_OMOP_WRITERS for A/B runs), a single one mapping in a thread unless
    # BENCH_OMOP_MAPPING_WORKERS says (N processes, "auto": one per spare core)
    writers = int(os.environ.get("BENCH_OMOP_WRITERS", rebuild_writers()))
    runner: Any
    if writers > 1:
        runner = ParallelBuild(settings, uow, projector, SOURCE_TOPICS, writers=writers)
    else:
        workers = os.environ.get("BENCH_OMOP_MAPPING_WORKERS", "0")
        runner = GenerationRunner(
            settings, uow, projector, SOURCE_TOPICS,
            mapping_workers=None if workers == "auto" else int(workers),
        )  # fmt: skip
    total = n + patients
    pg_before, cpu_before = _postgres_cpu(pgdata), time.process_time()
    started, durable_s, workers_cpu = time.perf_counter(), 0.0, 0.0
    durable_tables: dict[str, float] = {}
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
        # before the pool or the writer processes go with the runner
        workers_cpu = runner.workers_cpu() if writers > 1 else _workers_cpu(runner)
        # caught up: the generation becomes durable (SET LOGGED) as the swap makes it
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if writers > 1:  # the writers' last reports, as they stopped
            workers_cpu = runner.workers_cpu()
        logged = time.perf_counter()  # as the swap does
        durable_tables = await gens.make_durable_concurrently(
            engine, generation.schema, connections=os.cpu_count() or 1
        )
        async with uow() as u:
            await gens.make_durable(u.connection, generation.schema)
        durable_s = time.perf_counter() - logged
    finally:
        took = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        pg_after = _postgres_cpu(pgdata)
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
        floor = await _copy_floor(conn, generation.schema, pgdata.parent)
    finally:
        await conn.close()
    rate = n / took
    raw = n / raw_s
    out = {
        "clinical_events": n,
        "patients": patients,
        "events_applied": applied,
        "seconds": round(took, 1),
        "set_logged_seconds": round(durable_s, 1),
        "set_logged_seconds_per_table": durable_tables,
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
        "copy_floor": floor,
        # what does not depend on the machine's load: CPU per clinical event
        "projection_cpu_ms_per_event": round(1000 * cpu / n, 3),
        "writers": writers,
        # child processes: the writers of shares 1.. (or the mapping workers of one writer)
        "child_processes_cpu_ms_per_event": round(1000 * workers_cpu / n, 3),
        "postgres_cpu_ms_per_event": None
        if pg_before is None or pg_after is None
        else round(1000 * (pg_after - pg_before) / n, 3),
        "translate_calls": runner.translate_calls() if writers > 1 else translator.calls,
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
        rebuild = await _rebuild(settings, n, patients, console, work / "pgdata")
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
