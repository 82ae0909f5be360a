"""What the EHR benchmark (``bench/ehr.py``) prepares and measures beside the API: the
composition, the 100,000 EHRs seeded in SQL, the storage per composition, the raw durable
insert limit, and the per-second timeline of the paced phase."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "openehr" / "ehrbase-integration-tests"
EHRBASE_BYTES_PER_COMPOSITION = 36_000


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def vital_signs() -> tuple[bytes, dict[str, Any]]:
    """The OPT and a ~5 KB canonical vital-signs composition (blood pressure, 5 events of
    systolic + diastolic), valid against it."""
    sys.path.insert(0, str(ROOT / "services" / "ehr" / "src"))
    from hygie_ehr.domain.opt import parse_opt
    from hygie_ehr.domain.validation import validate
    from hygie_ehr.webtemplate import flat_to_canonical

    raw = next(CONFORMANCE.glob("**/ehrn_vital_signs.v2.opt")).read_bytes()
    opt = parse_opt(raw)
    flat = json.loads(
        (CONFORMANCE / "compositions" / "FLAT" / "ehrn_vital_signs.v2__.json").read_text()
    )
    data = flat_to_canonical(opt, flat)
    observation = data["content"][0]["items"][0]
    event = observation["data"]["events"][0]
    diastolic = copy.deepcopy(event["data"]["items"][0])
    diastolic["archetype_node_id"] = "at0005"
    diastolic["name"]["value"] = "Diastolic"
    diastolic["value"]["magnitude"] = 80.0
    event["data"]["items"].append(diastolic)
    for _ in range(4):
        observation["data"]["events"].append(copy.deepcopy(event))
    issues = validate(data, opt)
    assert not issues, issues
    return raw, data


async def raw_insert(dsn: str, body: bytes, seconds: float, concurrency: int) -> float:
    """The raw limit of a durable commit: one INSERT of the JSONB per transaction."""
    import asyncpg

    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    assert pool is not None
    try:
        await pool.execute("CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, d jsonb)")
        text = body.decode()
        count = 0

        async def loop(deadline: float) -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await pool.execute(
                    "INSERT INTO bench_raw VALUES ($1, $2::jsonb)", uuid.uuid4(), text
                )
                count += 1

        start = time.perf_counter()
        await asyncio.gather(*(loop(start + seconds) for _ in range(concurrency)))
        rate = count / (time.perf_counter() - start)
        await pool.execute("DROP TABLE bench_raw")
        return rate
    finally:
        await pool.close()


async def storage(dsn: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
        count = await conn.fetchval(
            "SELECT count(*) FROM object_version v JOIN versioned_object o USING (vo_id)"
            " WHERE o.kind = 'COMPOSITION'"
        )
        tables = {}
        for table in ("object_version", "versioned_object", "entry", "contribution", "journal"):
            tables[table] = await conn.fetchval("SELECT pg_total_relation_size($1)", table)
        journal_share = await conn.fetchval(
            "SELECT coalesce(sum(pg_column_size(j.*)), 0) FROM journal j"
            " WHERE event_type = 'hygie.ehr.composition.committed.v1'"
        )
        # the composition rows' share of tables holding other objects (EHR_STATUS) too
        status_share = await conn.fetchval(
            "SELECT coalesce(sum(pg_column_size(v.*)), 0) FROM object_version v"
            " JOIN versioned_object o USING (vo_id) WHERE o.kind <> 'COMPOSITION'"
        )
    finally:
        await conn.close()
    store = sum(v for k, v in tables.items() if k != "journal")
    per = (store - status_share) / count if count else None
    return {
        "compositions": count,
        "table_bytes": tables,
        "bytes_per_composition": round(per) if per else None,
        "journal_bytes_per_composition": round(journal_share / count) if count else None,
        "journal_note": "composition.committed rows (full canonical JSON, kept forever); "
        "row bytes without index overhead",
        "vs_ehrbase_36kb": round(per / EHRBASE_BYTES_PER_COMPOSITION, 3) if per else None,
    }


async def seed_ehrs(dsn: str, seed_ehr: str, n: int, console: Console) -> float:
    """``n`` EHRs cloned in SQL from one created by the API (see the module docstring)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    start = time.perf_counter()
    try:
        batch = 20_000
        for first in range(0, n, batch):
            await conn.execute(
                """
                WITH src AS (
                  SELECT e.*, v.data AS status, v.committer, v.archetype_node_id,
                         c.system_id AS c_system
                  FROM ehr e
                  JOIN object_version v ON v.vo_id = e.ehr_status_id AND v.version = 1
                  JOIN contribution c ON c.contribution_id = v.contribution_id
                  WHERE e.ehr_id = $1::uuid),
                g AS MATERIALIZED (
                  SELECT i, gen_random_uuid() AS ehr_id, gen_random_uuid() AS status_id,
                         gen_random_uuid() AS contribution_id, 'P' || i AS subject
                  FROM generate_series($2::int, $3::int) i),
                e AS (
                  INSERT INTO ehr (ehr_id, system_id, time_created, subject_namespace,
                                   subject_id, ehr_status_id, is_queryable, is_modifiable,
                                   created_by)
                  SELECT g.ehr_id, s.system_id, now(), 'bench-ipp', g.subject, g.status_id,
                         true, true, s.created_by FROM g, src s),
                c AS (
                  INSERT INTO contribution (contribution_id, ehr_id, system_id,
                                            time_committed, committer, change_type)
                  SELECT g.contribution_id, g.ehr_id, s.c_system, now(), s.committer,
                         'creation' FROM g, src s),
                o AS (
                  INSERT INTO versioned_object (vo_id, ehr_id, kind, time_created,
                                                latest_version)
                  SELECT g.status_id, g.ehr_id, 'EHR_STATUS', now(), 1 FROM g)
                INSERT INTO object_version (vo_id, version, ehr_id, contribution_id,
                                            time_committed, committer, change_type,
                                            lifecycle_state, archetype_node_id, data)
                SELECT g.status_id, 1, g.ehr_id, g.contribution_id, now(), s.committer,
                       'creation', 'complete', s.archetype_node_id,
                       jsonb_set(jsonb_set(s.status,
                         '{subject,external_ref,id,value}', to_jsonb(g.subject)),
                         '{uid,value}', to_jsonb(g.status_id::text || '::hygie::1'))
                FROM g, src s
                """,
                seed_ehr,
                first,
                min(first + batch, n) - 1,
            )
            console.print(f"  seeded {min(first + batch, n):,} EHRs")
        await conn.execute("ANALYZE ehr; ANALYZE object_version; ANALYZE versioned_object")
    finally:
        await conn.close()
    return time.perf_counter() - start


_SAMPLE = """
SELECT (SELECT count(*) FROM journal WHERE published_at IS NULL) AS backlog,
       (SELECT sessions FROM pg_stat_database WHERE datname = current_database()) AS sessions,
       (SELECT num_timed + num_requested FROM pg_stat_checkpointer) AS checkpoints,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker')
         AS autovacuum,
       (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock') AS lock_waits
"""


async def relay_backlog(dsn: str) -> int:
    """Journal rows the relay has not published yet."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM journal WHERE published_at IS NULL"))
    finally:
        await conn.close()


async def drain(dsn: str, timeout: float = 120.0) -> tuple[int, float]:
    """Wait until the relay has published the journal; (backlog at the start, seconds)."""
    start = time.perf_counter()
    first = backlog = await relay_backlog(dsn)
    while backlog and time.perf_counter() - start < timeout:
        await asyncio.sleep(0.25)
        backlog = await relay_backlog(dsn)
    return first, round(time.perf_counter() - start, 2)


class Monitor:
    """Samples the database five times a second while a phase runs: relay backlog, database
    sessions opened (a connection pool that closes and reopens connections shows here),
    checkpoints, autovacuum workers, sessions waiting on a lock (the journal counter row);
    with the service's CPU seconds."""

    def __init__(self, dsn: str, cpu: Any) -> None:
        self.dsn, self.cpu = dsn, cpu
        self.samples: list[tuple[Any, ...]] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Monitor:
        import asyncpg

        self._conn = await asyncpg.connect(self.dsn)
        await self._sample()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._sample()
        await self._conn.close()

    async def _sample(self) -> None:
        row = await self._conn.fetchrow(_SAMPLE)
        self.samples.append(
            (time.perf_counter(), *tuple(row), self.cpu(), time.process_time(), *_machine())
        )

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), 0.2)
            except TimeoutError:
                await self._sample()

    def totals(self) -> dict[str, Any]:
        first, last = self.samples[0], self.samples[-1]
        return {
            # sessions opened between the first and the last sample (the monitor's own
            # opened before the first)
            "db_sessions_opened": last[2] - first[2],
            "checkpoints": last[3] - first[3],
            "max_relay_backlog": max(s[1] for s in self.samples),
            "autovacuum_seen": any(s[4] for s in self.samples),
        }

    def timeline(self, start: float, sends: list[tuple[float, ...]]) -> list[dict[str, Any]]:
        """Per second from ``start``: commits sent, their p50 and max latency (ms), the
        sender's max lag (ms) and commits in flight, the relay backlog, sessions waiting on
        a lock, the CPU share (cores) of the service, of this client and of the whole
        machine, the most runnable processes, and autovacuum seen in that second."""
        out = []
        for second in range(int(max((s[0] for s in sends), default=start) - start) + 1):
            mine_sends = [s for s in sends if int(s[0] - start) == second]
            lat = sorted(s[1] for s in mine_sends)
            mine = [m for m in self.samples if int(m[0] - start) == second]
            share = _share([(m[0], m[6]) for m in mine if m[6] is not None])
            client = _share([(m[0], m[7]) for m in mine])
            machine = _share([(m[0], m[8]) for m in mine if m[8] is not None])
            out.append(
                {
                    "t": second,
                    "sent": len(lat),
                    "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
                    "max_ms": round(lat[-1], 1) if lat else None,
                    "sender_lag_max_ms": round(max(s[2] for s in mine_sends), 1)
                    if mine_sends
                    else None,
                    "in_flight_max": max((s[3] for s in mine_sends), default=None),
                    "relay_backlog": max((m[1] for m in mine), default=None),
                    "lock_waits": max((m[5] for m in mine), default=None),
                    "service_cpu": share,
                    "client_cpu": client,
                    "machine_cpu": machine,
                    "runnable_max": max((m[9] for m in mine if m[9] is not None), default=None),
                    "autovacuum": max((m[4] for m in mine), default=None),
                }
            )
        return out


def _share(points: list[tuple[float, float]]) -> float | None:
    """CPU seconds per second between the first and last (time, CPU seconds) sample."""
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    return round((points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]), 2)


def _machine() -> tuple[float | None, int | None]:
    """(CPU seconds the whole machine has been busy, processes runnable now) from
    ``/proc/stat`` (None, None elsewhere): whether the service shared the cores."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None, None
    fields = [int(x) for x in lines[0].split()[1:]]
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # less idle, iowait
    running = next((int(x.split()[1]) for x in lines if x.startswith("procs_running")), None)
    return busy / os.sysconf("SC_CLK_TCK"), running
