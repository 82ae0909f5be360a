"""Demo hospital benchmark (issue 10): ``hygie demo --patients 1000 --days 30`` against
the embedded stack started by ``hygie up`` (every service in its own process, PostgreSQL
durable, the Tansu broker), as a user runs it.

Measured: the wall time of the writes (identity feed, EHRs, compositions through openEHR
REST), writes/s, the time until the OMOP projection and the audit log have caught up
(consumer lag and outbox backlog 0 everywhere, OMOP generation lag 0), and the events
that went through the platform (the audit log's leaves: it records every event of every
domain topic and every access) per second until then. Target: 1,000 patients x 30 days
fully projected in under 5 minutes.

``python -m bench demo [--events PATIENTS]`` (default 1,000 patients; ``--days`` is 30).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from hygie_platform.testing.stack import hygie

from . import standalone

DEFAULT_EVENTS = 1_000
DAYS = 30
SEED = 1
UNTIL = "2026-11-01"
SERVICES = ("ehr", "patient_index", "terminology", "audit", "omop_projection")
TARGET_SECONDS = 300.0


def _env(home: Path) -> dict[str, str]:
    from hygie_platform.embedded import free_port
    from hygie_platform.testing.stack import stack_env

    return stack_env(home, {name: free_port() for name in SERVICES})


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench demo``."""
    from .machine import load_average, machine_cpu, machine_info

    patients = options.events or DEFAULT_EVENTS
    home = Path(tempfile.mkdtemp(prefix="hygie-bench-demo-"))
    env = _env(home)
    args = [sys.executable, "-m", "hygie_platform.cli", "up"]
    for name in SERVICES:
        args += ["--service", name]
    load_before = load_average()
    up = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    result: dict[str, Any] = {"benchmark": "demo", "patients": patients, "days": DAYS}
    try:
        status = hygie("status", "--wait", "--timeout", "180", env=env, timeout=240)
        if status.returncode != 0:
            result["error"] = f"stack not healthy: {status.stdout[-800:]}{status.stderr[-800:]}"
            return result
        console.print(f"stack up; hygie demo --patients {patients} --days {DAYS} ...")
        cpu_before = machine_cpu()
        started = time.monotonic()
        demo = subprocess.run(
            [
                sys.executable, "-m", "hygie_platform.cli", "demo",
                "--patients", str(patients), "--days", str(DAYS), "--seed", str(SEED),
                "--until", UNTIL,
            ],
            env=env, capture_output=True, text=True, timeout=4 * 3600,
        )  # fmt: skip
        wall = time.monotonic() - started
        cpu_after = machine_cpu()
        if demo.returncode != 0:
            result["error"] = f"hygie demo failed: {demo.stdout[-1500:]}{demo.stderr[-1500:]}"
            return result
        report = json.loads((home / "demo" / "report.json").read_text())
        verify = hygie("audit", "verify", env=env, timeout=1800)
        leaves = None
        if verify.returncode == 0 and "OK:" in verify.stdout:
            leaves = int(verify.stdout.split("OK:", 1)[1].split("leaves", 1)[0])
        caught = report["catch_up"]["seconds_until_lag_0"]
        total = caught.get("platform")
        compositions = sum(
            v
            for k, v in report["created"].items()
            if k not in ("patient_recorded", "patient_death_recorded", "ehr")
        )
        result.update(
            {
                "stays": report["params"]["stays"],
                "registrations": report["params"]["registrations"],
                "writes": report["writes"],
                "compositions": compositions,
                "refused": report["refused"],
                "results": {
                    "writes_seconds": report["seconds"],
                    "writes_per_second": report["writes_per_second"],
                    "seconds_until_omop_lag_0": caught.get("omop_projection"),
                    "seconds_until_audit_lag_0": caught.get("audit"),
                    "seconds_until_everything_caught_up": total,
                    "wall_seconds_with_report": round(wall, 1),
                    "audit_log_events": leaves,
                    "platform_events_per_second": round(leaves / total, 1)
                    if leaves and total
                    else None,
                },
                "still_pending": report["catch_up"]["still_pending"],
                "target_seconds": TARGET_SECONDS,
                "target_met": {
                    "correctness": not report["refused"]
                    and not report["catch_up"]["still_pending"],
                    "fully_projected_in_time": total is not None and total < TARGET_SECONDS,
                },
                "machine_busy_share": round(
                    (cpu_after.busy - cpu_before.busy) / (cpu_after.total - cpu_before.total), 2
                )
                if cpu_before and cpu_after and cpu_after.total > cpu_before.total
                else None,
            }
        )
        for name, value in result["results"].items():
            console.print(f"{name:40} {value}")
        return result
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.communicate(timeout=90)
        shutil.rmtree(home, ignore_errors=True)
        result["machine"] = machine_info(broker="tansu (embedded)", load_average_before=load_before)


def main() -> None:
    parser = standalone.parser("demo", __doc__)
    parser.add_argument("--events", type=int, default=None, help="patients (default 1000)")
    standalone.main("demo", run, parser)


if __name__ == "__main__":
    main()
