"""Audit log benchmark: append from Kafka, inclusion proofs, full verification, patient report.

Targets (issue 8): append ≥ 5,000 records/s sustained from Kafka; inclusion proof p95
< 5 ms at 10M records; full verification ≥ 200,000 records/s; patient report for a patient
with 10,000 accesses < 200 ms.

- **append**: N access events are put on ``hygie.access.v1`` first; then the audit service
  (real ``ServiceRuntime``: the platform's batched consumer, one transaction per fetch that
  builds the BALP records, takes the appender lock and COPYs records and Merkle nodes)
  starts in this process and the clock runs until the log holds N records. Raw baseline,
  same broker, same run: a plain aiokafka consumer group reading the same N records.
  ratio = ours / raw. Also the sustained rate, from the first committed batch to the last
  (without the consumer's start: group join, first fetch). CPU seconds of this process
  and of PostgreSQL during the phase are recorded (per record), with the load average:
  other work on the machine slows both.
- **proofs**: a tree of ``--proof-leaves`` leaves (nodes only, bulk-loaded with the
  service's own ``new_nodes``) in its own database; p50/p95/p99 of the service's
  ``inclusion_proof`` for random leaves. Raw baseline: one primary-key lookup.
- **verify**: ``--verify-records`` synthetic BALP records appended with the service's own
  functions (``entry_rows``, ``new_nodes``), then ``verify_log`` over the whole log. Raw
  baselines in the same run: streaming the same records by binary COPY without hashing,
  and SHA-256 alone over their bytes in this process.
- **report**: 10,000 accesses of one patient among them; ``access_report`` timed.

``python -m bench.audit [--events N] [--proof-leaves N] [--verify-records N]`` (or
``python -m bench audit`` once listed in ``bench.BENCHMARKS``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console

from . import infra, standalone
from .machine import load_average, machine_info, process_cpu_seconds

DEFAULT_EVENTS = 50_000
#: Records in the log: positions are gap-free from 0, so the last one + 1 (an index probe,
#: where count(*) would scan the growing table on every poll).
_COUNT = "SELECT coalesce(max(seq) + 1, 0) FROM audit_entry"
TARGETS = {"append_per_s": 5_000, "proof_p95_ms": 5.0, "verify_per_s": 200_000, "report_ms": 200.0}


def _access(i: int, patient: str, when: datetime) -> Any:
    from hygie_contracts.access import RecordAccessed

    return RecordAccessed(
        patient=patient,
        agent=f"user-{i % 500}",
        roles=("clinician",),
        organization="CHU Nord",
        resource=f"Composition/{i}",
        purpose="TREAT",
        request_id=f"req-{i}",
        occurred_at=when,
    )


async def _produce(settings: Any, n: int) -> None:
    from hygie_platform import kafka
    from hygie_platform.envelope import envelope_for

    producer = kafka.producer(settings)
    await producer.start()
    topic = settings.topic("hygie.access.v1")
    now = datetime.now(UTC)
    try:
        for start in range(0, n, 2000):
            futures = []
            for i in range(start, min(n, start + 2000)):
                env = envelope_for(_access(i, f"bench|P{i % 1000}", now), source="/hygie/bench")
                futures.append(
                    await producer.send(topic, key=env.key, value=env.data, headers=env.headers())
                )
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _raw_consume(settings: Any, n: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic("hygie.access.v1"),
        bootstrap_servers=settings.kafka,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    got, started = 0, time.perf_counter()
    try:
        while got < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            got += sum(len(v) for v in batch.values())
    finally:
        await consumer.stop()
    return n / (time.perf_counter() - started)


async def _append_synthetic(dsn: str, records: int, *, patient_of: Any) -> None:
    """Append records to the log with the service's own functions, by COPY."""
    from hygie_audit.domain.balp import from_access
    from hygie_audit.domain.entries import ENTRY_COLUMNS, NewRecord, entry_rows
    from hygie_audit.domain.merkle import frontier_keys, new_nodes

    conn = await asyncpg.connect(dsn)
    try:
        size = await conn.fetchval(
            "SELECT coalesce(max(idx) + 1, 0) FROM merkle_node WHERE level = 0"
        )
        now = datetime.now(UTC)
        template = from_access(source="/hygie/ehr", event=_access(0, "bench|P0", now))
        for start in range(size, size + records, 20_000):
            end = min(size + records, start + 20_000)
            keys = frontier_keys(start)
            rows = await conn.fetch(
                "SELECT level, idx, hash FROM merkle_node WHERE (level, idx) IN"
                " (SELECT * FROM unnest($1::smallint[], $2::bigint[]))",
                [k[0] for k in keys],
                [k[1] for k in keys],
            )
            frontier = {(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}
            batch = []
            for seq in range(start, end):
                patient = {"system": "bench", "value": patient_of(seq).split("|")[1]}
                entity = [
                    {**template["entity"][0], "what": {"identifier": patient}},
                    *template["entity"][1:],
                ]
                batch.append(NewRecord(uuid.uuid4(), {**template, "entity": entity}))
            entries, leaves = entry_rows(start, batch)
            await conn.copy_records_to_table("audit_entry", records=entries, columns=ENTRY_COLUMNS)
            await conn.copy_records_to_table(
                "merkle_node",
                records=new_nodes(start, frontier, leaves),
                columns=["level", "idx", "hash"],
            )
    finally:
        await conn.close()


async def _raw_verify_baselines(dsn: str, size: int) -> dict[str, float]:
    """Records per second of streaming the records by binary COPY without hashing, and of
    SHA-256 alone over their bytes (no database), in this process."""
    import hashlib

    conn = await asyncpg.connect(dsn)
    try:
        received = 0

        async def sink(chunk: bytes) -> None:
            nonlocal received
            received += len(chunk)

        started = time.perf_counter()
        await conn.copy_from_query(
            f"SELECT seq, body FROM audit_entry WHERE seq < {int(size)} ORDER BY seq",
            output=sink,
            format="binary",
        )
        copy_rate = size / (time.perf_counter() - started)
        bodies = [r[0] for r in await conn.fetch("SELECT body FROM audit_entry LIMIT 20000")]
    finally:
        await conn.close()
    sha = hashlib.sha256
    started = time.perf_counter()
    for body in bodies:
        sha(b"\x00" + body).digest()
    return {
        "copy_records_per_s": round(copy_rate),
        "sha256_records_per_s": round(len(bodies) / (time.perf_counter() - started)),
        "bytes_per_record": round(received / max(size, 1)),
    }


def _postgres_pid(work: Path) -> int | None:
    pid_file = work / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


class _Cpu:
    """CPU seconds of this process and of PostgreSQL (its processes) over a phase."""

    def __init__(self, pg_pid: int | None) -> None:
        self.pg_pid = pg_pid
        self.ours = time.process_time()
        self.pg = process_cpu_seconds(pg_pid)
        self.load = load_average()

    def done(self, records: int) -> dict[str, Any]:
        ours = time.process_time() - self.ours
        pg_now = process_cpu_seconds(self.pg_pid)
        pg = None if pg_now is None or self.pg is None else pg_now - self.pg
        return {
            "python_cpu_us_per_record": round(ours / records * 1e6, 1),
            "postgres_cpu_us_per_record": None if pg is None else round(pg / records * 1e6, 1),
            "load_average_before": self.load,
            "load_average_after": load_average(),
        }


async def _proof_tree(dsn: str, leaves: int, console: Console) -> None:
    """A tree of ``leaves`` synthetic leaf hashes, nodes computed by the service's code."""
    from hygie_audit.domain.merkle import frontier_keys, new_nodes

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE merkle_node (level smallint, idx bigint, hash bytea NOT NULL);"
            "CREATE TABLE audit_entry (seq bigint PRIMARY KEY, body bytea NOT NULL)"
        )
        known: dict[tuple[int, int], bytes] = {}
        step = 200_000
        for start in range(0, leaves, step):
            count = min(step, leaves - start)
            frontier = {k: known[k] for k in frontier_keys(start)}
            batch = [os.urandom(32) for _ in range(count)]
            nodes = new_nodes(start, frontier, batch)
            known = {
                (lv, i): h for lv, i, h in nodes if (lv, i) in set(frontier_keys(start + count))
            } | {k: v for k, v in frontier.items() if k in set(frontier_keys(start + count))}
            await conn.copy_records_to_table(
                "merkle_node", records=nodes, columns=["level", "idx", "hash"]
            )
            console.print(f"  proof tree: {start + count:,} leaves", end="\r")
        await conn.execute("ALTER TABLE merkle_node ADD PRIMARY KEY (level, idx)")
        await conn.execute("ANALYZE merkle_node")
    finally:
        await conn.close()


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


async def _bench(options: argparse.Namespace, console: Console, work: Path) -> dict[str, Any]:
    from sqlalchemy import text

    from hygie_audit.bootstrap import make_spec
    from hygie_audit.config import AuditOptions
    from hygie_audit.service.log import inclusion_proof
    from hygie_audit.service.report import access_report
    from hygie_audit.service.verify import verify_log
    from hygie_platform.config import Settings
    from hygie_platform.db import asyncpg_dsn, create_engine, ensure_database, with_database
    from hygie_platform.service import ServiceRuntime

    stops: list[Any] = []
    database_url, kafka = os.environ.get("HYGIE_DATABASE_URL"), os.environ.get("HYGIE_KAFKA")
    try:
        database_url_is_ours = database_url is None
        if database_url is None:
            database_url = infra.embedded_postgres(work, stops)
        if kafka is None:
            kafka = infra.embedded_broker(work, stops)
        tag = uuid.uuid4().hex[:6]
        settings = Settings(
            database_url=database_url,
            kafka=kafka,
            database_prefix=f"hygie_bench_{tag}_",
            topic_prefix=f"bench{tag}.",
            home=work,
            log_json=False,
            log_level="WARNING",
        )
        n = options.events or DEFAULT_EVENTS
        out: dict[str, Any] = {"events": n}

        console.print(f"producing {n:,} access events")
        await _produce(settings, n)
        raw = await _raw_consume(settings, n)
        runtime = ServiceRuntime(make_spec(AuditOptions(poll_seconds=0.05)), settings)
        await runtime.prepare()
        assert runtime.engine is not None
        pg_pid = _postgres_pid(work) if database_url_is_ours else None
        cpu = _Cpu(pg_pid)
        started = time.perf_counter()
        runtime.start()
        first: tuple[float, int] | None = None  # when the first batch was in, and its size
        async with runtime.engine.connect() as conn:
            while (count := (await conn.execute(text(_COUNT))).scalar() or 0) < n:
                if first is None and count:
                    first = (time.perf_counter(), count)
                await asyncio.sleep(0.05)
                await conn.commit()
        ended = time.perf_counter()
        append = n / (ended - started)
        if first is None:  # everything arrived before the first poll saw anything
            first = (started, 0)
        out["append"] = {
            "records_per_s": round(append),
            # From the first committed batch to the last: without the consumer's start
            # (group join, first fetch) that the figure above includes.
            "sustained_records_per_s": round((n - first[1]) / max(ended - first[0], 1e-9)),
            "seconds_to_first_batch": round(first[0] - started, 2),
            "raw_consume_per_s": round(raw),
            "ratio": round(append / raw, 3),
            **cpu.done(n),
        }
        console.print(f"append: {append:,.0f}/s (raw consume {raw:,.0f}/s)")

        dsn = asyncpg_dsn(runtime.dsn)
        records = options.verify_records
        console.print(f"appending {records:,} synthetic records (+10,000 for one patient)")
        await _append_synthetic(dsn, records, patient_of=lambda s: f"bench|P{s % 1000}")
        await _append_synthetic(dsn, 10_000, patient_of=lambda s: "bench|REPORT")
        # A log verified in production was written over months and vacuumed meanwhile
        # (autovacuum of insert-only tables): hint bits set, statistics current. Without
        # this the first scan after the bulk load also pays for setting the hint bits.
        vacuum = await asyncpg.connect(dsn)
        try:
            await vacuum.execute("VACUUM (ANALYZE) audit_entry, merkle_node")
        finally:
            await vacuum.close()
        verifier = create_engine(settings, runtime.database)
        async with verifier.connect() as conn:
            cpu = _Cpu(pg_pid)
            t = time.perf_counter()
            report = await verify_log(conn, runtime.app.state.audit_key)  # type: ignore[union-attr]
            took = time.perf_counter() - t
            verify_cpu = cpu.done(report.tree_size)
            assert report.ok, report.problems[:5]
            times = []
            for _ in range(10):
                t = time.perf_counter()
                result = await access_report(conn, "bench|REPORT", show_staff=False)
                times.append((time.perf_counter() - t) * 1000)
            assert result["accesses"] == 10_000
        await verifier.dispose()
        raw_verify = await _raw_verify_baselines(dsn, report.tree_size)
        out["verify"] = {
            "records": report.tree_size,
            "seconds": round(took, 2),
            "records_per_s": round(report.tree_size / took),
            "raw": raw_verify,
            "ratio_to_copy": round(report.tree_size / took / raw_verify["copy_records_per_s"], 3),
            **verify_cpu,
        }
        out["report"] = {
            "accesses": 10_000,
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": _pct(times, 0.95),
        }
        console.print(
            f"verify: {report.tree_size / took:,.0f}/s; report {statistics.median(times):.0f} ms"
        )
        await runtime.stop()

        leaves = options.proof_leaves
        console.print(f"building a proof tree of {leaves:,} leaves")
        proof_db = f"hygie_bench_{tag}_proofs"
        await ensure_database(settings, proof_db)
        await _proof_tree(asyncpg_dsn(with_database(database_url, proof_db)), leaves, console)
        engine = create_engine(settings, proof_db)
        rng = random.Random(7)
        proof_ms, raw_ms = [], []
        async with engine.connect() as conn:
            for i in range(2200):
                leaf = rng.randrange(leaves)
                t = time.perf_counter()
                await inclusion_proof(conn, leaf, None)
                if i >= 200:  # warm-up
                    proof_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await conn.execute(
                    text("SELECT hash FROM merkle_node WHERE level = 0 AND idx = :i"), {"i": leaf}
                )
                if i >= 200:
                    raw_ms.append((time.perf_counter() - t) * 1000)
        await engine.dispose()
        out["proofs"] = {
            "leaves": leaves,
            "p50_ms": _pct(proof_ms, 0.5),
            "p95_ms": _pct(proof_ms, 0.95),
            "p99_ms": _pct(proof_ms, 0.99),
            "raw_lookup_p95_ms": _pct(raw_ms, 0.95),
        }
        console.print(f"inclusion proof p95 {out['proofs']['p95_ms']} ms at {leaves:,} leaves")
        out["target_met"] = {
            "append": append >= TARGETS["append_per_s"],
            "append_sustained": out["append"]["sustained_records_per_s"] >= TARGETS["append_per_s"],
            "proof_p95": out["proofs"]["p95_ms"] < TARGETS["proof_p95_ms"],
            "verify": out["verify"]["records_per_s"] >= TARGETS["verify_per_s"],
            "report": out["report"]["median_ms"] < TARGETS["report_ms"],
            "correctness": report.ok,
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
    """Entry point of ``python -m bench audit``."""
    for name, default in (("proof_leaves", 10_000_000), ("verify_records", 1_000_000)):
        if getattr(options, name, None) is None:
            setattr(options, name, default)
    with tempfile.TemporaryDirectory(prefix="hygie-bench-audit-") as work:
        return asyncio.run(_bench(options, console, Path(work)))


def main() -> None:
    parser = standalone.parser("audit", __doc__)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--proof-leaves", type=int, default=None)
    parser.add_argument("--verify-records", type=int, default=None)
    standalone.main("audit", run, parser)


if __name__ == "__main__":
    main()
