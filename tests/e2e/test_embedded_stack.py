"""`hygie up` as a user runs it: the whole embedded stack in processes, healthy, a write
through the API, a clean stop on Ctrl-C, and the data still there at the next start."""

from __future__ import annotations

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

import httpx
import pytest

from hygie_platform.embedded import free_port
from hygie_platform.testing.stack import hygie, stack_env

pytestmark = pytest.mark.slow

SERVICES = ("ehr", "audit")


def _up(env: dict[str, str]) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "hygie_platform.cli", "up"]
    for name in SERVICES:
        args += ["--service", name]
    return subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
        os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out


def test_hygie_up_runs_the_stack_keeps_data_and_stops_cleanly():
    # Not under pytest's tmp_path: the PostgreSQL system user must be able to reach it,
    # and pytest resets its temporary root to 0700 whenever another session starts.
    home = Path(tempfile.mkdtemp(prefix="hygie-stack-"))
    ports = {name: free_port() for name in SERVICES}
    env = stack_env(home, ports)
    proc = _up(env)
    try:
        status = hygie("status", "--wait", "--timeout", "90", env=env)
        if status.returncode != 0:
            pytest.fail(f"{status.stdout}{status.stderr}\n--- hygie up:\n{_stop(proc)}")
        token = hygie(
            "token", "--role", "clinician", "--user", "u1", env=env, timeout=120
        ).stdout.strip()
        assert token.count(".") == 2  # the token alone on stdout
        ehr = f"http://127.0.0.1:{ports['ehr']}/openehr/v1/ehr"
        created = httpx.post(ehr, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert created.status_code == 201
        location = created.headers["location"]
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "Hygie stopped." in out
    state = home / "stack.json"
    assert not state.exists()

    proc = _up(env)  # a second start: PostgreSQL kept the data, the broker starts empty
    try:
        assert hygie("status", "--wait", "--timeout", "90", env=env).returncode == 0
        token = hygie(
            "token", "--role", "clinician", "--user", "u1", env=env, timeout=120
        ).stdout.strip()
        again = httpx.get(location, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert again.status_code == 200
        db_url = json.loads(state.read_text())["settings"]["database_url"]
        assert db_url.startswith("postgresql://")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the relay refilled the empty broker
            topics = hygie("topics", env=env).stdout.split()
            if "hygie.ehr.v1" in topics:
                break
            time.sleep(1)
        assert "hygie.ehr.v1" in topics
    finally:
        _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
