"""EHR store benchmark (issue 3): validated commits of a ~5 KB vital-signs composition over
the openEHR REST API, reads, EHR-by-subject lookups at 100,000 EHRs, storage per
composition.

Targets on the 2-core reference machine: ≥ 300 commits/s sustained with one service
process; p99 < 50 ms at 100 commits/s; GET composition p50 < 5 ms; EHR-by-subject lookup
p95 < 10 ms at 100,000 EHRs; storage bytes per composition reported (EHRbase: ~36 KB).

**Topology.** Embedded PostgreSQL (durable: fsync, synchronous_commit on) and the embedded
Tansu broker; the EHR store runs as **one OS process** (``python -m hygie_ehr``: uvicorn,
its outbox relay publishing to the broker, its subscriber); this process is the client
(loopback TCP, keep-alive; httpx for set-up, a minimal HTTP/1.1 client for the timed
loops: ``bench/ehr_client.py``). Every commit is parsed, validated against the
template, stored (version, entries index, contribution), journaled and published.

**Phases.** (1) template upload, ``--ehrs`` EHRs through the API; (2) *sustained*: commits
from ``--concurrency`` concurrent clients for ``--seconds``; (3) *paced*: 100 commits/s
open loop for 20 s, latency of each, started once the relay has published the sustained
phase's journal (a system committing 100/s has no such backlog; its size and drain time are
recorded), with a per-second timeline of latency against the relay backlog, database
connections opened, checkpoints and autovacuum; (4) GET composition by version uid, one client;
(5) storage per composition (``pg_total_relation_size`` of the composition tables over
the count; the journal, which keeps every event forever, reported apart); (6) EHR-by-subject:
100,000 EHRs seeded directly in SQL — each a row-for-row clone of what ``POST /ehr`` wrote
for a seed EHR (EHR, contribution, EHR_STATUS head and version), in
``INSERT ... SELECT generate_series`` statements — then ``GET /ehr?subject_id=`` of random
subjects through the API. **Raw limits** of the same run: HTTP round trip of the service's
``/health`` skipped in favour of the cheapest authenticated openEHR call (template list),
and one durable ``INSERT`` of the composition JSONB per transaction from as many clients.

``python -m bench ehr`` (or ``python -m bench.ehr [--seconds S] [--concurrency C]``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

from . import ehr_seed as seed
from . import infra, standalone
from .ehr_client import RawHttp
from .machine import load_average, machine_info, process_cpu_seconds

DEFAULT_EVENTS = 0  # unused: phases are timed (see --seconds)
TARGETS = {
    "sustained_commits_per_s": 300.0,
    "p99_at_100_per_s_ms": 50.0,
    "get_composition_p50_ms": 5.0,
    "ehr_by_subject_p95_ms": 10.0,
}
LOOKUP_EHRS = 100_000
BASE = "/openehr/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m hygie_ehr``: the service as production runs it, its stderr to ``log``."""
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "hygie_ehr"], env=env, stdout=subprocess.DEVNULL, stderr=err
        )


async def _wait_up(http: Any, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the EHR service exited with {proc.returncode}")
        with contextlib.suppress(Exception):
            if (await http.get("/health")).status_code in (200, 503):
                return
        await asyncio.sleep(0.3)
    raise RuntimeError("the EHR service did not answer within 120 s")


async def _post(http: RawHttp, url: str, body: bytes) -> int:
    """POST; a connection the server closed under the client (keep-alive race of a loaded
    machine) counts as an error (status 0), it does not stop the run."""
    status, _ = await http.request("POST", url, body)
    return status


async def _commit_loop(
    http: RawHttp, ehrs: list[str], body: bytes, deadline: float, latencies: list[float]
) -> int:
    errors = 0
    while time.perf_counter() < deadline:
        ehr_id = random.choice(ehrs)
        start = time.perf_counter()
        status = await _post(http, f"{BASE}/ehr/{ehr_id}/composition", body)
        latencies.append((time.perf_counter() - start) * 1000)
        if status != 201:
            errors += 1
    return errors


async def _sustained(
    http: RawHttp, ehrs: list[str], body: bytes, seconds: float, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    start = time.perf_counter()
    errors = await asyncio.gather(
        *(_commit_loop(http, ehrs, body, start + seconds, latencies) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    return {
        "commits": len(latencies),
        "errors": sum(errors),
        "seconds": round(elapsed, 2),
        "commits_per_s": round(len(latencies) / elapsed, 1),
        "concurrency": concurrency,
        "latency": seed.percentiles(latencies),
    }


async def _paced(
    http: RawHttp, ehrs: list[str], body: bytes, rate: float, seconds: float, monitor: Any
) -> dict:
    """Open loop: a commit is sent every 1/rate s whatever the previous ones do; with the
    per-second timeline of latency against what the monitor saw. The sender's own lag is
    recorded (how late a commit left this process against its schedule: a client that
    falls behind shows there, not in the service) with the commits in flight when it left."""
    sends: list[tuple[float, float, float, int]] = []  # (sent at, latency ms, lag ms, in flight)
    errors = 0
    in_flight = 0

    async def one(ehr_id: str, due: float) -> None:
        nonlocal errors, in_flight
        start = time.perf_counter()
        in_flight += 1
        flying = in_flight
        status = await _post(http, f"{BASE}/ehr/{ehr_id}/composition", body)
        in_flight -= 1
        sends.append((start, (time.perf_counter() - start) * 1000, (start - due) * 1000, flying))
        if status != 201:
            errors += 1

    tasks = []
    start = time.perf_counter()
    async with monitor:
        cpu_before = monitor.cpu()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(random.choice(ehrs), due)))
        await asyncio.gather(*tasks)
        cpu_after = monitor.cpu()
    achieved = len(sends) / (time.perf_counter() - start)
    out = {
        "rate_asked": rate,
        "rate_achieved": round(achieved, 1),
        "errors": errors,
        "latency": seed.percentiles([s[1] for s in sends]),
        "sender_lag": seed.percentiles([s[2] for s in sends]),
        "max_in_flight": max((s[3] for s in sends), default=0),
        **monitor.totals(),
        "timeline": monitor.timeline(start, sends),
    }
    if cpu_before is not None and cpu_after is not None:
        out["service_cpu_ms_per_commit"] = round((cpu_after - cpu_before) * 1000 / len(sends), 2)
    return out


async def _timed_gets(http: RawHttp, urls: list[str]) -> tuple[list[float], int]:
    latencies, errors = [], 0
    for url in urls:
        start = time.perf_counter()
        status, _ = await http.request("GET", url)
        latencies.append((time.perf_counter() - start) * 1000)
        if status != 200:
            errors += 1
    return latencies, errors


async def _bench(options: argparse.Namespace, console: Console, work: Path) -> dict[str, Any]:
    import httpx

    from hygie_platform.config import Settings
    from hygie_platform.db import asyncpg_dsn, service_database_name, with_database
    from hygie_platform.security import issue_token

    seconds = options.seconds
    concurrency = options.concurrency
    stops: list[Any] = []
    database_url, kafka = os.environ.get("HYGIE_DATABASE_URL"), os.environ.get("HYGIE_KAFKA")
    proc: subprocess.Popen[bytes] | None = None
    try:
        if database_url is None:
            database_url = infra.embedded_postgres(work, stops)
        if kafka is None:
            kafka = infra.embedded_broker(work, stops)
        tag = uuid.uuid4().hex[:6]
        port = _free_port()
        env = {
            **os.environ,
            "HYGIE_DATABASE_URL": database_url,
            "HYGIE_KAFKA": kafka,
            "HYGIE_DATABASE_PREFIX": f"hygie_bench_{tag}_",
            "HYGIE_TOPIC_PREFIX": f"bench{tag}.",
            "HYGIE_HOME": str(work),
            "HYGIE_EHR_PORT": str(port),
            "HYGIE_LOG_LEVEL": "WARNING",
        }
        settings = Settings(
            database_url=database_url,
            kafka=kafka,
            database_prefix=env["HYGIE_DATABASE_PREFIX"],
            topic_prefix=env["HYGIE_TOPIC_PREFIX"],
            home=work,
        )
        dsn = asyncpg_dsn(with_database(database_url, service_database_name(settings, "ehr")))
        token = issue_token(settings, user="bench", roles=["clinician", "admin"])
        proc = _start_service(env, work / "ehr.log")
        opt, composition = seed.vital_signs()
        body = json.dumps(composition).encode()
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            limits=limits,
            timeout=60,
        ) as http:
            await _wait_up(http, proc)
            load_before = load_average()
            resp = await http.post(
                f"{BASE}/definition/template/adl1.4",
                content=opt,
                headers={"Content-Type": "application/xml"},
            )
            assert resp.status_code in (201, 409), resp.text
            ehrs = []
            for i in range(options.ehrs):
                r = await http.post(
                    f"{BASE}/ehr",
                    json={
                        "_type": "EHR_STATUS",
                        "subject": {
                            "external_ref": {"id": {"value": f"B{i}"}, "namespace": "bench-seed"}
                        },
                        "is_queryable": True,
                        "is_modifiable": True,
                    },
                    headers={"Prefer": "return=representation"},
                )
                assert r.status_code == 201, r.text
                ehrs.append(r.json()["ehr_id"]["value"])
            console.print(f"composition {len(body):,} bytes; {len(ehrs)} EHRs; warming up")
            # The timed loops use a minimal client (bench/ehr_client.py): httpx cost as much
            # CPU per request as the service's commit, on the same cores.
            raw = RawHttp(
                "127.0.0.1",
                port,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                concurrency * 2,
            )
            await _sustained(raw, ehrs, body, 3, concurrency)
            cpu_before = process_cpu_seconds(proc.pid)
            console.print(f"sustained commits: {concurrency} clients for {seconds} s")
            sustained = await _sustained(raw, ehrs, body, seconds, concurrency)
            cpu_after = process_cpu_seconds(proc.pid)
            if cpu_before is not None and cpu_after is not None:
                sustained["service_cpu_ms_per_commit"] = round(
                    (cpu_after - cpu_before) * 1000 / max(1, sustained["commits"]), 2
                )
            console.print(
                f"  {sustained['commits_per_s']:,.0f} commits/s, "
                f"p50 {sustained['latency']['p50_ms']} ms, p99 {sustained['latency']['p99_ms']} ms"
            )
            # A system committing 100/s has no backlog of the sustained phase to publish:
            # the paced phase starts once the relay has published the journal.
            backlog, drained = await seed.drain(dsn)
            sustained["relay_backlog_at_end"] = backlog
            sustained["relay_drain_seconds"] = drained
            console.print(f"  relay backlog {backlog:,}, published in {drained} s")
            console.print(f"paced commits: 100/s for {options.paced_seconds:g} s")
            monitor = seed.Monitor(dsn, lambda: process_cpu_seconds(proc.pid))
            paced = await _paced(raw, ehrs, body, 100.0, options.paced_seconds, monitor)
            console.print(
                f"  p50 {paced['latency']['p50_ms']} ms, p99 {paced['latency']['p99_ms']} ms, "
                f"{paced['db_sessions_opened']} database connections opened, "
                f"{paced['checkpoints']} checkpoints, "
                f"relay backlog <= {paced['max_relay_backlog']}, "
                f"{paced['max_in_flight']} in flight at most, sender lag p99 "
                f"{paced['sender_lag']['p99_ms']} ms, {paced['rate_achieved']} commits/s done"
            )
            # GET composition by version uid (one client)
            made = []
            for ehr_id in ehrs[:50]:
                r = await http.post(f"{BASE}/ehr/{ehr_id}/composition", content=body)
                made.append(f"{BASE}/ehr/{ehr_id}/composition/{r.headers['ETag'].strip(chr(34))}")
            await _timed_gets(raw, made)  # warm
            urls = [random.choice(made) for _ in range(options.reads)]
            cpu_before = process_cpu_seconds(proc.pid)
            read_lat, read_err = await _timed_gets(raw, urls)
            cpu_after = process_cpu_seconds(proc.pid)
            reads = {"errors": read_err, "latency": seed.percentiles(read_lat)}
            if cpu_before is not None and cpu_after is not None:
                cpu_ms = (cpu_after - cpu_before) * 1000
                reads["service_cpu_ms_per_get"] = round(cpu_ms / len(urls), 2)
            console.print(f"GET composition p50 {reads['latency']['p50_ms']} ms")
            template_list = [f"{BASE}/definition/template/adl1.4"] * options.reads
            raw_http, _ = await _timed_gets(raw, template_list)
            storage = await seed.storage(dsn)
            console.print(
                f"storage: {storage['bytes_per_composition']:,} bytes per composition "
                f"(journal {storage['journal_bytes_per_composition']:,})"
            )
            console.print("raw: durable INSERT of the JSONB per transaction")
            raw_insert = await seed.raw_insert(dsn, body, 10, concurrency)
            console.print(f"  {raw_insert:,.0f} inserts/s")
            console.print(f"seeding {LOOKUP_EHRS:,} EHRs in SQL")
            seed_seconds = await seed.seed_ehrs(dsn, ehrs[0], LOOKUP_EHRS, console)
            subjects = [
                f"{BASE}/ehr?subject_id=P{random.randrange(LOOKUP_EHRS)}"
                "&subject_namespace=bench-ipp"
                for _ in range(options.reads)
            ]
            await _timed_gets(raw, subjects[:50])
            lookup_lat, lookup_err = await _timed_gets(raw, subjects)
            lookups = {
                "ehrs": LOOKUP_EHRS + len(ehrs),
                "seed_seconds": round(seed_seconds, 1),
                "errors": lookup_err,
                "latency": seed.percentiles(lookup_lat),
            }
            console.print(f"EHR by subject p95 {lookups['latency']['p95_ms']} ms")
            load_after = load_average()
            await raw.aclose()
        raw = {
            "durable_jsonb_insert_per_s": round(raw_insert, 1),
            "http_template_list": seed.percentiles(raw_http),
        }
        ratio = sustained["commits_per_s"] / raw_insert if raw_insert else None
        return {
            "benchmark": "ehr",
            "composition_bytes": len(body),
            "template": "ehrn_vital_signs.v2",
            "sustained": sustained,
            "paced_100_per_s": paced,
            "get_composition": reads,
            "ehr_by_subject": lookups,
            "storage": storage,
            "raw": raw,
            "ratios": {
                "sustained_commits_to_raw_insert": round(ratio, 3) if ratio else None,
                "get_p50_to_http_floor_p50": round(
                    reads["latency"]["p50_ms"] / raw["http_template_list"]["p50_ms"], 2
                ),
            },
            "targets": TARGETS,
            "target_met": {
                "correctness": sustained["errors"] == 0
                and paced["errors"] == 0
                and read_err == 0
                and lookup_err == 0,
                "sustained": sustained["commits_per_s"] >= TARGETS["sustained_commits_per_s"],
                "paced_p99": paced["latency"]["p99_ms"] < TARGETS["p99_at_100_per_s_ms"],
                "get_p50": reads["latency"]["p50_ms"] < TARGETS["get_composition_p50_ms"],
                "lookup_p95": lookups["latency"]["p95_ms"] < TARGETS["ehr_by_subject_p95_ms"],
            },
            "machine": machine_info(
                broker="external" if os.environ.get("HYGIE_KAFKA") else "embedded Tansu",
                postgres={"durable": os.environ.get("HYGIE_DATABASE_URL") is None},
                load_average_before=load_before,
                load_average_after=load_after,
                client="this process, same 2 cores: httpx for set-up, bench/ehr_client.py timed",
            ),
        }
    finally:
        if proc is not None and proc.poll() is not None:
            log = (work / "ehr.log").read_text(errors="replace")[-3000:]
            console.print(f"[red]the EHR service exited with {proc.returncode}:[/]\n{log}")
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(Exception):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
        infra.stop_all(stops)


def _defaults(options: argparse.Namespace) -> argparse.Namespace:
    for name, value in (
        ("seconds", 60.0),
        ("paced_seconds", 20.0),
        ("concurrency", 16),
        ("ehrs", 200),
        ("reads", 1000),
    ):
        if getattr(options, name, None) is None:
            setattr(options, name, value)
    return options


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench ehr``."""
    options = _defaults(options)
    with tempfile.TemporaryDirectory(prefix="hygie-bench-ehr-") as work:
        return asyncio.run(_bench(options, console, Path(work)))


def main() -> None:
    parser = standalone.parser("ehr", __doc__)
    parser.add_argument("--seconds", type=float, default=None, help="sustained phase length")
    parser.add_argument("--paced-seconds", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=None, help="concurrent clients")
    parser.add_argument("--ehrs", type=int, default=None, help="EHRs created through the API")
    parser.add_argument("--reads", type=int, default=None, help="GETs per read phase")
    standalone.main("ehr", run, parser)


if __name__ == "__main__":
    main()
