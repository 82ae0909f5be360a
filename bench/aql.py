"""AQL benchmark (issue 5): single-EHR and population queries over 100,000 compositions.

Targets: the latest blood pressure of one patient p95 < 20 ms; population queries (all
systolic > 140 in a date range; count of compositions by template) p95 < 500 ms.

**Load.** ``--events`` compositions (default 100,000: vital signs, lab result, problem list
in turn) over ``--ehrs`` EHRs (default 10,000). The EHR store runs in this process on its
own database (``start_service``: migrations, routers); its templates are uploaded and one
EHR with one composition of each template is written through the REST API, so that every
row the store writes for a commit (contribution, versioned object, version with its JSON,
the ``entry`` index of archetype roots the AQL compiler joins) comes from the service's own
write path, validated. Those rows are then cloned in bulk inside PostgreSQL (``INSERT ...
SELECT`` from ``generate_series``, 10,000 per statement): each clone gets new ids (EHR,
EHR_STATUS, composition, contribution), its own ``uid``, a start time spread over 2024 and,
for blood pressures, a systolic magnitude between 90 and 180. Clones are row-for-row what
the commit path writes, without validating 100,000 times the same document.

**Measure.** Through the HTTP API of the running service (parse, compile, execute, the
one access event of the query journaled in its transaction, JSON answer): p50/p95/p99 over
``--runs`` executions, the single-EHR query on a random EHR each time, with the CPU of this
process (client and service) per request and the access events journaled per query. Then
the compiled statement alone over asyncpg with the planner settings ``run_aql`` uses (SQL
only: what the HTTP figure adds is the service), and the PostgreSQL plans (``EXPLAIN
(ANALYZE, BUFFERS)`` of the compiled statements), all in the results.

``python -m bench.aql [--events N] [--ehrs N] [--runs N]`` (or ``python -m bench aql``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from . import infra, standalone
from .machine import load_average, machine_info

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "openehr" / "ehrbase-integration-tests"
DEFAULT_EVENTS = 100_000
DEFAULT_EHRS = 10_000
TARGETS = {"single_ehr_p95_ms": 20.0, "population_p95_ms": 500.0}
TEMPLATES = {
    "vital_signs": "valid_templates/all_types/ehrn_vital_signs.v2.opt",
    "lab_result": "valid_templates/all_types/vg_ObservationLab.v.1.1.0.opt",
    "problem_list": "valid_templates/query_test_sets/ehrbase.testcase05.v0.opt",
}
BP = "openEHR-EHR-OBSERVATION.blood_pressure.v2"
SYSTOLIC = "o/data[at0001]/events[at0006]/data[at0003]/items[at0004]/value/magnitude"
#: where the systolic magnitude lies in the vital signs composition (see _seeds)
SYSTOLIC_JSON = "{content,0,items,0,data,events,0,data,items,0,value,magnitude}"

QUERIES = {
    "latest_blood_pressure": (
        f"SELECT c/context/start_time/value, {SYSTOLIC} "
        f"FROM EHR e[ehr_id/value = $ehr_id] CONTAINS COMPOSITION c "
        f"CONTAINS OBSERVATION o[{BP}] ORDER BY c/context/start_time/value DESC LIMIT 1"
    ),
    "systolic_over_140_in_range": (
        f"SELECT e/ehr_id/value, c/context/start_time/value, {SYSTOLIC} "
        f"FROM EHR e CONTAINS COMPOSITION c CONTAINS OBSERVATION o[{BP}] "
        f"WHERE {SYSTOLIC} > 140 AND c/context/start_time/value >= '2024-03-01T00:00:00Z' "
        "AND c/context/start_time/value < '2024-03-15T00:00:00Z'"
    ),
    "count_by_template": (
        "SELECT c/archetype_details/template_id/value, COUNT(*) FROM COMPOSITION c"
    ),
}


def _seeds() -> dict[str, dict[str, Any]]:
    """One canonical composition per template: the conformance FLAT vital signs, the
    web template examples of the lab result and problem list templates."""
    from hygie_ehr.domain.opt import parse_opt
    from hygie_ehr.webtemplate import flat_to_canonical, web_template
    from hygie_ehr.webtemplate.example import example_flat

    out: dict[str, dict[str, Any]] = {}
    for name, path in TEMPLATES.items():
        opt = parse_opt((CONFORMANCE / path).read_bytes())
        if name == "vital_signs":
            flat = json.loads(
                (CONFORMANCE / "compositions/FLAT/ehrn_vital_signs.v2__.json").read_text()
            )
        else:
            flat = example_flat(web_template(opt), now=datetime(2024, 1, 1, tzinfo=UTC))
        out[name] = flat_to_canonical(opt, flat)
    return out


CLONE_EHRS = """
WITH g AS (
  SELECT i, gen_random_uuid() AS ehr_id, gen_random_uuid() AS status_id,
         gen_random_uuid() AS contribution_id
  FROM generate_series($1::int, $2::int) AS i
), c AS (
  INSERT INTO contribution (contribution_id, ehr_id, system_id, time_committed, committer,
                            change_type, description)
  SELECT g.contribution_id, g.ehr_id, s.system_id, s.time_committed, s.committer,
         s.change_type, s.description
  FROM g, contribution s WHERE s.contribution_id = $3
), e AS (
  INSERT INTO ehr (ehr_id, system_id, time_created, subject_namespace, subject_id,
                   ehr_status_id, is_queryable, is_modifiable, created_by)
  SELECT g.ehr_id, s.system_id, s.time_created, 'bench', 'BENCH-' || g.i, g.status_id,
         true, true, s.created_by
  FROM g, ehr s WHERE s.ehr_id = $4
), vo AS (
  INSERT INTO versioned_object (vo_id, ehr_id, kind, time_created, latest_version)
  SELECT g.status_id, g.ehr_id, 'EHR_STATUS', s.time_created, 1
  FROM g, versioned_object s WHERE s.vo_id = $5
)
INSERT INTO object_version (vo_id, version, ehr_id, contribution_id, time_committed,
                            committer, change_type, description, lifecycle_state,
                            template_id, archetype_node_id, data)
SELECT g.status_id, 1, g.ehr_id, g.contribution_id, s.time_committed, s.committer,
       s.change_type, s.description, s.lifecycle_state, s.template_id, s.archetype_node_id,
       jsonb_set(jsonb_set(s.data, '{uid,value}', to_jsonb(g.status_id::text || '::' ||
         split_part(s.data #>> '{uid,value}', '::', 2) || '::1')),
         '{subject,external_ref,id,value}', to_jsonb('BENCH-' || g.i))
FROM g, object_version s WHERE s.vo_id = $5 AND s.version = 1
"""

CLONE_COMPOSITIONS = """
WITH g AS (
  SELECT i, gen_random_uuid() AS vo_id, gen_random_uuid() AS contribution_id,
         ($3::uuid[])[1 + (i / $4::int) % cardinality($3::uuid[])] AS ehr_id,
         ($5::uuid[])[1 + i % $4::int] AS seed,
         timestamptz '2024-01-01' + random() * interval '365 days' AS at,
         round((90 + random() * 90)::numeric, 0) AS systolic
  FROM generate_series($1::int, $2::int) AS i
), c AS (
  INSERT INTO contribution (contribution_id, ehr_id, system_id, time_committed, committer,
                            change_type, description)
  SELECT g.contribution_id, g.ehr_id, s.system_id, g.at, s.committer, s.change_type,
         s.description
  FROM g JOIN object_version v ON v.vo_id = g.seed AND v.version = 1
  JOIN contribution s ON s.contribution_id = v.contribution_id
), vo AS (
  INSERT INTO versioned_object (vo_id, ehr_id, kind, time_created, latest_version, template_id)
  SELECT g.vo_id, g.ehr_id, s.kind, g.at, 1, s.template_id
  FROM g JOIN versioned_object s ON s.vo_id = g.seed
), en AS (
  INSERT INTO entry (vo_id, version, ord, ehr_id, template_id, archetype_id, rm_type, path,
                     json_path)
  SELECT g.vo_id, 1, s.ord, g.ehr_id, s.template_id, s.archetype_id, s.rm_type, s.path,
         s.json_path
  FROM g JOIN entry s ON s.vo_id = g.seed AND s.version = 1
)
INSERT INTO object_version (vo_id, version, ehr_id, contribution_id, time_committed,
                            committer, change_type, description, lifecycle_state,
                            template_id, archetype_node_id, data)
SELECT g.vo_id, 1, g.ehr_id, g.contribution_id, g.at, s.committer, s.change_type,
       s.description, s.lifecycle_state, s.template_id, s.archetype_node_id,
       CASE WHEN s.data #> $6::text[] IS NOT NULL
            THEN jsonb_set(d.data, $6::text[], to_jsonb(g.systolic)) ELSE d.data END
FROM g JOIN object_version s ON s.vo_id = g.seed AND s.version = 1
CROSS JOIN LATERAL (SELECT jsonb_set(jsonb_set(s.data, '{uid,value}',
    to_jsonb(g.vo_id::text || '::' || split_part(s.data #>> '{uid,value}', '::', 2) || '::1')),
    '{context,start_time,value}',
    to_jsonb(to_char(g.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) AS data) d
"""


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "runs": len(ordered),
        "p50_ms": statistics.median(ordered),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": ordered[-1],
    }


async def _load(svc: Any, dsn: str, n: int, n_ehrs: int, console: Console) -> dict[str, Any]:
    import asyncpg

    http, headers = svc.client, svc.auth("clinician")
    for path in TEMPLATES.values():
        resp = await http.post(
            "/openehr/v1/definition/template/adl1.4",
            content=(CONFORMANCE / path).read_bytes(),
            headers={**headers, "Content-Type": "application/xml"},
        )
        assert resp.status_code in (201, 409), resp.text
    resp = await http.post(
        "/openehr/v1/ehr", headers={**headers, "Prefer": "return=representation"}
    )
    assert resp.status_code == 201, resp.text
    seed_ehr = resp.json()["ehr_id"]["value"]
    seeds: list[str] = []
    for name, composition in _seeds().items():
        resp = await http.post(
            f"/openehr/v1/ehr/{seed_ehr}/composition", json=composition, headers=headers
        )
        assert resp.status_code == 201, f"{name}: {resp.text}"
        seeds.append(resp.headers["ETag"].strip('"').split("::")[0])
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        seed = await conn.fetchrow(
            "SELECT e.ehr_id, e.ehr_status_id, v.contribution_id FROM ehr e JOIN object_version v"
            " ON v.vo_id = e.ehr_status_id AND v.version = 1 WHERE e.ehr_id = $1",
            uuid.UUID(seed_ehr),
        )
        step = 10_000
        for a in range(1, n_ehrs, step):
            await conn.execute(
                CLONE_EHRS, a, min(n_ehrs - 1, a + step - 1), seed["contribution_id"],
                seed["ehr_id"], seed["ehr_status_id"],
            )  # fmt: skip
        ehrs = [r[0] for r in await conn.fetch("SELECT ehr_id FROM ehr ORDER BY ehr_id")]
        seed_ids = [uuid.UUID(s) for s in seeds]
        for a in range(0, n - len(seeds), step):
            b = min(n - len(seeds) - 1, a + step - 1)
            await conn.execute(
                CLONE_COMPOSITIONS, a, b, ehrs, len(seed_ids), seed_ids,
                SYSTOLIC_JSON.strip("{}").split(","),
            )  # fmt: skip
            console.print(f"  loaded {b + 1 + len(seeds):,} compositions")
        await conn.execute("VACUUM ANALYZE")  # as autovacuum leaves a settled table
        counts = {
            "ehrs": await conn.fetchval("SELECT count(*) FROM ehr"),
            "compositions": await conn.fetchval(
                "SELECT count(*) FROM versioned_object WHERE kind = 'COMPOSITION'"
            ),
            "entries": await conn.fetchval("SELECT count(*) FROM entry"),
            "database_mb": round(
                await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20
            ),
        }
    finally:
        await conn.close()
    counts["load_seconds"] = round(time.perf_counter() - started, 1)
    counts["ehr_ids"] = [str(e) for e in ehrs]
    return counts


async def _measure(svc: Any, q: str, runs: int, params: Any = None) -> tuple[dict, Any]:
    """HTTP latencies, and the CPU of this process (client and service) per request."""
    http, headers = svc.client, svc.auth("clinician")
    samples, last = [], None
    cpu = time.process_time()
    budget = time.perf_counter() + 90  # a slow query is measured fewer times, not for hours
    for _ in range(runs):
        if samples and time.perf_counter() > budget and len(samples) >= 5:
            break
        body: dict[str, Any] = {"q": q}
        if params is not None:
            body["query_parameters"] = params()
        start = time.perf_counter()
        resp = await http.post("/openehr/v1/query/aql", json=body, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, resp.text
        last = resp.json()
    stats = _percentiles(samples)
    stats["cpu_ms_per_request"] = (time.process_time() - cpu) * 1000 / len(samples)
    return stats, last


def _numbered(q: str, params: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """The compiled statement with asyncpg's ``$n`` placeholders, and its values."""
    import re

    from hygie_ehr.aql import compile_query, parse

    compiled = compile_query(parse(q), params, limit=10_001)
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return f"${len(names)}"

    sql = re.sub(r"(?<!:):(p\d+)", number, compiled.sql)
    return sql, [compiled.values[n] for n in names]


async def _sql_only(dsn: str, q: str, runs: int, params: Any = None) -> dict[str, float]:
    """The compiled statement alone (no HTTP, no access journal), as run_aql sets it up."""
    import asyncpg

    from hygie_ehr.service.query import PLANNER

    conn = await asyncpg.connect(dsn)
    samples = []
    try:
        await conn.execute("SET plan_cache_mode = force_custom_plan")
        for setting, value in PLANNER.items():
            await conn.execute(f"SET {setting} = {value}")
        budget = time.perf_counter() + 60
        for _ in range(runs):
            if len(samples) >= 5 and time.perf_counter() > budget:
                break
            sql, values = _numbered(q, params() if params else None)
            start = time.perf_counter()
            await conn.fetch(sql, *values)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        await conn.close()
    return _percentiles(samples)


async def _explain(dsn: str, q: str, params: dict[str, Any] | None) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the compiled statement, its values bound."""
    import asyncpg

    from hygie_ehr.service.query import PLANNER

    sql, values = _numbered(q, params)
    conn = await asyncpg.connect(dsn)
    try:
        for setting, value in PLANNER.items():  # as run_aql does
            await conn.execute(f"SET {setting} = {value}")
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
    finally:
        await conn.close()
    return "\n".join(r[0] for r in rows)


async def _bench(options: argparse.Namespace, console: Console, work: Path) -> dict[str, Any]:
    from hygie_ehr.bootstrap import SPEC
    from hygie_platform.config import Settings
    from hygie_platform.db import asyncpg_dsn
    from hygie_platform.testing import start_service

    n = options.events or DEFAULT_EVENTS
    n_ehrs = options.ehrs or DEFAULT_EHRS
    runs = options.runs or 200
    stops: list[Any] = []
    database_url = os.environ.get("HYGIE_DATABASE_URL")
    try:
        if database_url is None:
            database_url = infra.embedded_postgres(work, stops)
        tag = uuid.uuid4().hex[:6]
        settings = Settings(
            database_url=database_url,
            database_prefix=f"hygie_bench_{tag}_",
            kafka=os.environ.get("HYGIE_KAFKA", "localhost:1"),
            home=work,
            log_json=False,
            log_level="WARNING",
        )
        load_before = load_average()
        async with start_service(SPEC, settings, background=False) as svc:
            dsn = asyncpg_dsn(svc.runtime.dsn)
            console.print(f"loading {n:,} compositions over {n_ehrs:,} EHRs")
            loaded = await _load(svc, dsn, n, n_ehrs, console)
            ehr_ids = loaded.pop("ehr_ids")
            rng = random.Random(5)
            out: dict[str, Any] = {"queries": {}, "plans": {}}
            one = {"ehr_id": ehr_ids[0]}
            for name, q in QUERIES.items():
                single = "$ehr_id" in q
                count = runs if single else max(20, runs // 10)
                params = (lambda: {"ehr_id": rng.choice(ehr_ids)}) if single else None
                await _measure(svc, q, 3, params)  # warm-up
                journaled = await _access_events(dsn)
                stats, last = await _measure(svc, q, count, params)
                stats["rows_last_run"] = len(last["rows"]) if last else 0
                stats["access_events_per_query"] = (await _access_events(dsn) - journaled) / stats[
                    "runs"
                ]
                out["queries"][name] = {"aql": q, **stats}
                out["queries"][name]["sql_only"] = await _sql_only(dsn, q, count, params)
                out["plans"][name] = await _explain(dsn, q, one if single else None)
                sql_only = out["queries"][name]["sql_only"]
                console.print(
                    f"{name:28} HTTP p50 {stats['p50_ms']:8.1f} p95 {stats['p95_ms']:8.1f} ms"
                    f" (CPU {stats['cpu_ms_per_request']:.1f} ms)"
                    f" | SQL p50 {sql_only['p50_ms']:7.1f} p95 {sql_only['p95_ms']:7.1f} ms"
                    f"  ({stats['rows_last_run']} rows)"
                )
            indexes = await _indexes(dsn)
        q = out["queries"]
        population = max(
            q["systolic_over_140_in_range"]["p95_ms"], q["count_by_template"]["p95_ms"]
        )
        return {
            "benchmark": "aql",
            "load": {**loaded, "method": "seed commits through the REST API, cloned in SQL"},
            **out,
            "indexes": indexes,
            "targets": TARGETS,
            "target_met": {
                "single_ehr": q["latest_blood_pressure"]["p95_ms"] < TARGETS["single_ehr_p95_ms"],
                "population": population < TARGETS["population_p95_ms"],
            },
            "machine": machine_info(
                broker="none (events journaled, relay not started)",
                postgres={"durable": os.environ.get("HYGIE_DATABASE_URL") is None},
                load_average_before=load_before,
            ),
        }
    finally:
        infra.stop_all(stops)


async def _access_events(dsn: str) -> int:
    """Access events journaled so far (``hygie.access.query.executed.v1``: one per query)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM journal WHERE event_type LIKE 'hygie.access.%'"
            )
        )
    finally:
        await conn.close()


async def _indexes(dsn: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN"
            " ('entry', 'versioned_object', 'object_version', 'ehr') ORDER BY indexname"
        )
    finally:
        await conn.close()
    return [r[0] for r in rows]


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench aql``."""
    for name in ("ehrs", "runs"):
        if not hasattr(options, name):
            setattr(options, name, None)
    with tempfile.TemporaryDirectory(prefix="hygie-bench-aql-") as work:
        return asyncio.run(_bench(options, console, Path(work)))


def main() -> None:
    parser = standalone.parser("aql", __doc__)
    parser.add_argument("--events", type=int, default=None, help="compositions to load")
    parser.add_argument("--ehrs", type=int, default=None, help="EHRs they belong to")
    parser.add_argument("--runs", type=int, default=None, help="runs of the single-EHR query")
    standalone.main("aql", run, parser)


if __name__ == "__main__":
    main()
