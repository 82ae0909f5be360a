"""Terminology benchmark (issue 7): release load, ``$lookup``, batch translate, ``$expand``.

Targets: load ≥ 100,000 concept rows/s and ≥ 200,000 relationship rows/s (synthetic
Athena-shaped files, 1M concepts / 5M relationships by default); ``$lookup`` p95 < 5 ms;
batch translate of 10,000 codes < 500 ms; first page of the ``$expand`` of a 50,000-code
is-a value set < 100 ms.

- **files**: Athena's own format (tab-separated, unquoted, ``YYYYMMDD``), generated here.
  4 concepts in 5 are standard (vocabulary ``SYN``), 1 in 5 a source code (``SRC``);
  standard concepts form trees of 50,000 concepts (``Is a``/``Subsumes``, depth ≤ 3, with
  their CONCEPT_ANCESTOR closure) and map to themselves (``Maps to``/``Mapped from``, as in
  Athena); 4 source codes in 5 map to a standard concept; the remaining relationships are
  ``Has finding site``/``Finding site of`` pairs; one synonym per two concepts (English,
  or French); two language concepts.
- **load**: the service's ``load_omop_release`` (COPY into a release schema, checks,
  indexes, activation). Rates are reported per COPY phase and end to end. Raw baseline,
  same run, same files: a plain ``COPY ... FROM STDIN`` of CONCEPT and CONCEPT_RELATIONSHIP
  into bare tables (no error handling, no line numbers, no checks, no index); ratio = ours
  (COPY phase) / raw. The load target is met when the whole release (every file, checks,
  indexes, activation) loads within ``concepts / 100,000 + relationships / 200,000`` s.
- **HTTP floor**: the same ``$lookup`` refused for its missing ``code`` (400: token check,
  middlewares, parameters, OperationOutcome, no database): what any request costs.
- **operations**, through HTTP on the service run as its own process
  (``python -m hygie_terminology``, uvicorn), from this process with httpx:
  ``$lookup`` of random codes one at a time (light) and from 16 concurrent clients
  (loaded); batch translate of 10,000 random source codes (mapped, unmapped and a few
  unknown); ``$expand`` of ``<SYN>?fhir_vs=isa/<root>`` (50,000 codes), first page of 100:
  the first request (computes the page and stores the expansion) and the next ones.
  Raw baselines: the same reads as one asyncpg query each (primary-key lookup; the batch
  join) on a connection of this process.
- **correctness**: row counts, every translated code's targets equal the generated
  mapping, the expansion's total is 50,000 and its first page the 100 smallest codes.

``python -m bench.terminology [--concepts N] [--relationships N]`` (or
``python -m bench terminology [--events N]``, N concepts and 5 N relationships).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console

from . import infra, standalone
from .machine import load_average, machine_info
from .terminology_data import SRC, SYN, TREE, generate, maps_to, std_id

DEFAULT_EVENTS = 1_000_000  # concepts; relationships are 5x
CONCURRENCY = 16
TARGETS = {
    "concept_rows_per_s": 100_000,
    "relationship_rows_per_s": 200_000,
    "lookup_p95_ms": 5.0,
    "translate_10k_ms": 500.0,
    "expand_first_page_ms": 100.0,
}
# -- measurements ------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def _summary(ms: list[float]) -> dict[str, Any]:
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": _pct(ms, 0.95),
        "p99_ms": _pct(ms, 0.99),
    }


async def _raw_copy(dsn: str, directory: Path) -> dict[str, Any]:
    """Plain COPY of CONCEPT and CONCEPT_RELATIONSHIP into bare tables (the raw limit)."""
    from hygie_terminology.domain.athena import table_by_name

    out: dict[str, Any] = {}
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS raw_copy CASCADE; CREATE SCHEMA raw_copy")
        for table, file in (
            ("concept", "CONCEPT.csv"),
            ("concept_relationship", "CONCEPT_RELATIONSHIP.csv"),
        ):
            spec = table_by_name(table)
            cols = ", ".join(f"{c.name} {c.type}" for c in spec.columns)
            await conn.execute(f"CREATE TABLE raw_copy.{table} ({cols})")
            started = time.perf_counter()
            status = await conn.copy_to_table(
                table,
                schema_name="raw_copy",
                source=directory / file,
                format="csv",
                delimiter="\t",
                quote="\b",
                header=True,
            )
            took = time.perf_counter() - started
            rows = int(status.split()[-1])
            out[table] = {"rows": rows, "seconds": round(took, 2), "rows_per_s": round(rows / took)}
        await conn.execute("DROP SCHEMA raw_copy CASCADE")
    finally:
        await conn.close()
    return out


class _Marks:
    """Times of the loader's progress steps."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.files: dict[str, float] = {}
        self.steps: dict[str, float] = {}
        self._last = self.start

    def file_started(self, name: str, total_bytes: int) -> None:
        self._last = time.perf_counter()

    def advance(self, nbytes: int) -> None: ...

    def file_done(self, name: str, rows: int) -> None:
        now = time.perf_counter()
        self.files[name] = now - self._last
        self._last = now

    def step(self, text: str) -> None:
        self.steps[text.split(":")[0]] = time.perf_counter() - self.start


def _spawn_service(settings_env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYGIE_")}
    env.update(settings_env)
    return subprocess.Popen(
        [sys.executable, "-m", "hygie_terminology"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def _wait_http(client: Any, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the terminology service exited (see its log)")
        with contextlib.suppress(Exception):
            await client.get("/fhir/CodeSystem/$lookup")
            return
        await asyncio.sleep(0.3)
    raise RuntimeError("the terminology service did not answer")


async def _timed(client: Any, method: str, url: str, **kw: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    r = await client.request(method, url, **kw)
    took = (time.perf_counter() - started) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:300]}")
    return took, r


async def _operations(
    client: Any, dsn: str, schema: str, concepts: int, console: Console
) -> tuple[dict[str, Any], dict[str, bool]]:
    rnd = random.Random(11)
    standard = concepts - concepts // 5
    out: dict[str, Any] = {}
    ok: dict[str, bool] = {}

    def syn_code() -> str:
        i = rnd.randint(1, concepts)
        return f"C{i if i % 5 else i - 1}"

    # The platform's floor: a $lookup refused for its missing code (authentication,
    # middlewares, parameters, an OperationOutcome; no database).
    floor = []
    for _ in range(1000):
        started = time.perf_counter()
        r = await client.get("/fhir/CodeSystem/$lookup", params={"system": SYN})
        floor.append((time.perf_counter() - started) * 1000)
        if r.status_code != 400:
            raise RuntimeError(f"expected 400, got {r.status_code}")
    out["http_floor_400"] = _summary(floor[200:])
    console.print(f"HTTP floor (400 without database): p95 {out['http_floor_400']['p95_ms']} ms")

    # $lookup, one at a time, after a warm-up.
    for _ in range(200):
        await _timed(
            client, "GET", "/fhir/CodeSystem/$lookup", params={"system": SYN, "code": "C1"}
        )
    light = []
    for _ in range(2000):
        took, _r = await _timed(
            client, "GET", "/fhir/CodeSystem/$lookup", params={"system": SYN, "code": syn_code()}
        )
        light.append(took)
    out["lookup_light"] = _summary(light)
    console.print(f"$lookup light: p95 {out['lookup_light']['p95_ms']} ms")

    # $lookup from CONCURRENCY clients at once.
    loaded: list[float] = []
    per_client = 250

    async def worker() -> None:
        for _ in range(per_client):
            took, _r = await _timed(
                client,
                "GET",
                "/fhir/CodeSystem/$lookup",
                params={"system": SYN, "code": syn_code()},
            )
            loaded.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - started
    out["lookup_concurrent"] = {
        **_summary(loaded),
        "clients": CONCURRENCY,
        "requests_per_s": round(len(loaded) / wall),
    }
    console.print(
        f"$lookup x{CONCURRENCY}: p95 {out['lookup_concurrent']['p95_ms']} ms, "
        f"{out['lookup_concurrent']['requests_per_s']:,}/s"
    )

    # Batch translate of 10,000 source codes (and a few unknown ones).
    def batch() -> list[dict[str, str]]:
        codes = []
        for n in range(10_000):
            if n % 100 == 99:
                codes.append({"system": SRC, "code": f"NOPE{n}"})
            else:
                codes.append({"system": SRC, "code": f"S{5 * rnd.randint(1, concepts // 5)}"})
        return codes

    translate, correct = [], True
    for run in range(12):
        codes = batch()
        took, r = await _timed(
            client, "POST", "/fhir/$translate-batch", json={"codes": codes}, timeout=60
        )
        if run >= 2:
            translate.append(took)
        for item, result in zip(codes, r.json()["results"], strict=True):
            code = item["code"]
            expected = maps_to(int(code[1:]), standard) if code.startswith("S") else None
            got = [t["concept_id"] for t in result["targets"]]
            if code.startswith("NOPE"):
                correct &= result["status"] == "unknown-code"
            elif expected is None:
                correct &= result["status"] == "unmapped" and not got
            else:
                correct &= result["status"] == "mapped" and got == [expected]
    out["translate_10k"] = {**_summary(translate), "codes": 10_000}
    ok["translate"] = correct
    console.print(f"batch translate 10,000: median {out['translate_10k']['median_ms']} ms")

    # $expand of the is-a value set of the first tree's root (50,000 codes), first page.
    expand, total, first = [], None, []
    url = f"{SYN}?fhir_vs=isa/C{std_id(0)}"
    for run in range(22):
        took, r = await _timed(
            client, "GET", "/fhir/ValueSet/$expand", params={"url": url, "count": 100}
        )
        body = r.json()["expansion"]
        total, first = body["total"], [c["code"] for c in body.get("contains", [])]
        if run == 0:
            out["expand_first_page_cold_ms"] = round(took, 2)
        if run >= 2:
            expand.append(took)
    members = sorted(f"C{std_id(k)}" for k in range(min(TREE, standard)))
    ok["expand"] = total == len(members) and first == members[:100]
    out["expand_first_page"] = {**_summary(expand), "total": total, "count": 100}
    console.print(
        f"$expand first page of {total:,}: median {out['expand_first_page']['median_ms']} ms"
    )

    # Raw limits: the same reads as single asyncpg queries.
    conn = await asyncpg.connect(dsn)
    try:
        pk, join = [], []
        stmt = await conn.prepare(
            f"SELECT * FROM {schema}.concept WHERE vocabulary_id = 'SYN' AND concept_code = $1"
        )
        for _ in range(2000):
            t = time.perf_counter()
            await stmt.fetchrow(syn_code())
            pk.append((time.perf_counter() - t) * 1000)
        for _ in range(10):
            codes = [c["code"] for c in batch()]
            t = time.perf_counter()
            await conn.fetch(
                f"SELECT s.concept_code, t.concept_id, t.concept_code, t.domain_id, "
                f"t.concept_name FROM {schema}.concept s "
                f"LEFT JOIN {schema}.concept_relationship r ON r.concept_id_1 = s.concept_id "
                "AND r.relationship_id = 'Maps to' AND r.invalid_reason IS NULL "
                f"LEFT JOIN {schema}.concept t ON t.concept_id = r.concept_id_2 "
                "WHERE s.vocabulary_id = 'SRC' AND s.concept_code = ANY($1::text[])",
                codes,
            )
            join.append((time.perf_counter() - t) * 1000)
        out["raw"] = {
            "concept_by_code": _summary(pk),
            "translate_join_10k": _summary(join),
        }
    finally:
        await conn.close()
    return out, ok


async def _bench(options: argparse.Namespace, console: Console, work: Path) -> dict[str, Any]:
    import httpx

    from hygie_platform.config import Settings
    from hygie_platform.db import asyncpg_dsn
    from hygie_platform.embedded.net import free_port
    from hygie_platform.security import issue_token
    from hygie_platform.service import ServiceRuntime
    from hygie_terminology.bootstrap import make_spec
    from hygie_terminology.service.loading import load_omop_release

    concepts, relationships = options.concepts, options.relationships
    stops: list[Any] = []
    database_url, kafka = os.environ.get("HYGIE_DATABASE_URL"), os.environ.get("HYGIE_KAFKA")
    out: dict[str, Any] = {"benchmark": "terminology", "concepts": concepts}
    proc: subprocess.Popen[bytes] | None = None
    try:
        if database_url is None:
            database_url = infra.embedded_postgres(work, stops)
        if kafka is None:
            kafka = infra.embedded_broker(work, stops)
        tag = uuid.uuid4().hex[:6]
        env = {
            "HYGIE_DATABASE_URL": database_url,
            "HYGIE_KAFKA": kafka,
            "HYGIE_DATABASE_PREFIX": f"hygie_bench_{tag}_",
            "HYGIE_TOPIC_PREFIX": f"bench{tag}.",
            "HYGIE_HOME": str(work / "home"),
            "HYGIE_LOG_JSON": "false",
            "HYGIE_LOG_LEVEL": "WARNING",
            "HYGIE_TERMINOLOGY_PORT": str(free_port()),
        }
        settings = Settings(
            database_url=database_url,
            kafka=kafka,
            database_prefix=env["HYGIE_DATABASE_PREFIX"],
            topic_prefix=env["HYGIE_TOPIC_PREFIX"],
            home=work / "home",
            log_json=False,
            log_level="WARNING",
        )

        files = work / "vocabulary"
        console.print(f"generating {concepts:,} concepts / {relationships:,} relationships")
        started = time.perf_counter()
        rows = generate(files, concepts, relationships)
        out["files"] = {"rows": rows, "generate_seconds": round(time.perf_counter() - started, 1)}
        out["relationships"] = rows["CONCEPT_RELATIONSHIP.csv"]

        runtime = ServiceRuntime(make_spec(starter=False), settings)
        await runtime.prepare()
        assert runtime.app is not None
        dsn = asyncpg_dsn(runtime.dsn)

        console.print("raw COPY of the same files")
        raw = await _raw_copy(dsn, files)
        console.print(f"loading the release (load average {load_average()})")
        marks = _Marks()
        started = time.perf_counter()
        result = await load_omop_release(
            uow=runtime.app.state.uow, dsn=dsn, directory=files, progress=marks
        )
        total = time.perf_counter() - started
        n_concepts, n_rels = rows["CONCEPT.csv"], rows["CONCEPT_RELATIONSHIP.csv"]
        copy_concept = marks.files["CONCEPT.csv"]
        copy_rel = marks.files["CONCEPT_RELATIONSHIP.csv"]
        budget = n_concepts / TARGETS["concept_rows_per_s"]
        budget += n_rels / TARGETS["relationship_rows_per_s"]
        out["load"] = {
            "total_seconds": round(total, 1),
            "budget_seconds": round(budget, 1),
            "copy_seconds": {k: round(v, 2) for k, v in marks.files.items()},
            "steps_at_seconds": {k: round(v, 1) for k, v in marks.steps.items()},
            "concept_copy_rows_per_s": round(n_concepts / copy_concept),
            "relationship_copy_rows_per_s": round(n_rels / copy_rel),
            "concept_rows_per_s_end_to_end": round(n_concepts / total),
            "relationship_rows_per_s_end_to_end": round(n_rels / total),
            "raw_copy": raw,
            "ratio_concept_copy_to_raw": round(raw["concept"]["seconds"] / copy_concept, 3),
            "ratio_relationship_copy_to_raw": round(
                raw["concept_relationship"]["seconds"] / copy_rel, 3
            ),
            "load_average_after": load_average(),
        }
        console.print(
            f"load: {total:.1f} s for the release (budget {budget:.1f} s); COPY CONCEPT "
            f"{n_concepts / copy_concept:,.0f}/s, CONCEPT_RELATIONSHIP {n_rels / copy_rel:,.0f}/s "
            f"(raw {raw['concept']['rows_per_s']:,}/s, "
            f"{raw['concept_relationship']['rows_per_s']:,}/s)"
        )
        counts_ok = (
            result.counts["concept"] == n_concepts
            and result.counts["concept_relationship"] == n_rels
            and result.counts["concept_ancestor"] == rows["CONCEPT_ANCESTOR.csv"]
        )
        schema = f"omop_r{result.release_id}"
        await runtime.stop()

        proc = _spawn_service(env, work / "service.log")
        token = issue_token(settings, user="bench", roles=["clinician"])
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{env['HYGIE_TERMINOLOGY_PORT']}",
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
            timeout=30,
        ) as client:
            await _wait_http(client, proc)
            ops, ok = await _operations(client, dsn, schema, concepts, console)
        out.update(ops)
        out["target_met"] = {
            "load": total <= budget,
            "lookup_p95": out["lookup_light"]["p95_ms"] < TARGETS["lookup_p95_ms"],
            "lookup_p95_concurrent": out["lookup_concurrent"]["p95_ms"] < TARGETS["lookup_p95_ms"],
            "translate_10k": out["translate_10k"]["median_ms"] < TARGETS["translate_10k_ms"],
            "expand_first_page": out["expand_first_page"]["median_ms"]
            < TARGETS["expand_first_page_ms"],
            "correctness": counts_ok and all(ok.values()),
        }
        out["checks"] = {"counts": counts_ok, **ok}
        out["targets"] = TARGETS
        out["machine"] = machine_info(
            broker="external" if os.environ.get("HYGIE_KAFKA") else "embedded Tansu",
            postgres={"durable": os.environ.get("HYGIE_DATABASE_URL") is None},
        )
        return out
    finally:
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
        infra.stop_all(stops)


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench terminology`` (``--events``: the concept count)."""
    if getattr(options, "concepts", None) is None:
        options.concepts = options.events or DEFAULT_EVENTS
    if getattr(options, "relationships", None) is None:
        options.relationships = 5 * options.concepts
    with tempfile.TemporaryDirectory(prefix="hygie-bench-terminology-") as work:
        return asyncio.run(_bench(options, console, Path(work)))


def main() -> None:
    parser = standalone.parser("terminology", __doc__)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--concepts", type=int, default=None)
    parser.add_argument("--relationships", type=int, default=None)
    standalone.main("terminology", run, parser)


if __name__ == "__main__":
    main()
