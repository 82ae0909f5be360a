"""`hygie demo` as a new user runs it: the whole embedded stack started by `hygie up`,
a small demo hospital played through the public interfaces, and its data found in the
EHR store, the patient index, the OMOP research view and the audit log; a second run
changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hygie_demo.hospital import make_plan, until_of

from hygie_platform.embedded import free_port
from hygie_platform.testing.stack import hygie, stack_env

pytestmark = pytest.mark.slow

SERVICES = ("ehr", "patient_index", "terminology", "audit", "omop_projection")
PATIENTS, DAYS, SEED, UNTIL = 20, 3, 7, date(2026, 11, 1)


def _stop(proc: subprocess.Popen[str]) -> str:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out


def _expected() -> dict[str, int]:
    """What the plan records, counted from the plan itself."""
    plan = make_plan(patients=PATIENTS, days=DAYS, seed=SEED, until=until_of(UNTIL))
    vitals = sum(len(s.vitals) for s in plan.stays)
    first_rounds = sum(1 for s in plan.stays if s.vitals)
    analytes = sum(len(results) for s in plan.stays for _, _, results in s.labs)
    labs = sum(len(s.labs) for s in plan.stays)
    discharged = [s for s in plan.stays if s.discharged is not None]
    return {
        "registrations": len(plan.registrations),
        "stays": len(plan.stays),
        # 5 observations per round (2 for blood pressure), the weight on the first round
        "measurements": vitals * 6 + first_rounds + analytes,
        # encounter, medication orders, vital signs, labs; problem list at discharge
        "compositions": 2 * len(plan.stays) + vitals + labs + len(discharged),
        "conditions": sum(len(s.diagnoses) for s in discharged),
        "drugs": sum(len(s.medications) for s in plan.stays),
    }


async def _omop(database_url: str, sql: str) -> Any:
    conn = await asyncpg.connect(database_url.rsplit("/", 1)[0] + "/hygie_omop_projection")
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_the_demo_hospital_reaches_every_view_and_a_rerun_changes_nothing():
    home = Path(tempfile.mkdtemp(prefix="hygie-demo-"))
    ports = {name: free_port() for name in SERVICES}
    env = stack_env(home, ports)
    args = [sys.executable, "-m", "hygie_platform.cli", "up"]
    for name in SERVICES:
        args += ["--service", name]
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    expected = _expected()
    try:
        status = hygie("status", "--wait", "--timeout", "120", env=env)
        if status.returncode != 0:
            pytest.fail(f"{status.stdout}{status.stderr}\n--- hygie up:\n{_stop(proc)}")
        demo_args = ["--patients", str(PATIENTS), "--days", str(DAYS), "--seed", str(SEED)]
        demo_args += ["--until", UNTIL.isoformat()]
        run = hygie("demo", *demo_args, env=env, timeout=240)
        assert run.returncode == 0, run.stdout + run.stderr
        report = json.loads((home / "demo" / "report.json").read_text())
        assert report["refused"] == {}
        assert report["catch_up"]["still_pending"] == {}
        kinds = ("encounter", "medication_orders", "vital_signs", "laboratory", "problem_list")
        assert sum(report["created"][k] for k in kinds) == expected["compositions"]
        where = {b["kind"]: b["where"] for b in report["broken"]}
        assert where["invalid-nir-api"].startswith("HTTP 400")
        assert where["composition-violates-template"].startswith("422")

        state = json.loads((home / "stack.json").read_text())
        db_url = state["settings"]["database_url"]
        admin = hygie("token", "--role", "admin", env=env).stdout.strip()
        auth = {"Authorization": f"Bearer {admin}"}
        # EHR store: every composition of the plan, plus the one with an unknown code
        aql = httpx.post(
            f"http://127.0.0.1:{ports['ehr']}/openehr/v1/query/aql",
            json={"q": "SELECT COUNT(c/uid/value) FROM EHR e CONTAINS COMPOSITION c"},
            headers=auth,
            timeout=30,
        )
        assert aql.json()["rows"] == [[expected["compositions"] + 1]]
        # patient index: every registration resolves (PIXm); duplicates were linked
        mpi = f"http://127.0.0.1:{ports['patient_index']}/fhir"
        goldens = httpx.get(f"{mpi}/Patient", params={"_count": 500}, headers=auth, timeout=30)
        total = goldens.json()["total"]
        assert 0 < total < expected["registrations"]
        dup = report["examples"]["duplicate"]
        pix = httpx.get(
            f"{mpi}/Patient/$ihe-pix",
            params={"sourceIdentifier": f"{dup[0]['system']}|{dup[0]['ipp']}"},
            headers=auth,
            timeout=30,
        )
        assert pix.status_code == 200
        # OMOP research view: persons, measurements, conditions (+ the unknown code), drugs
        omop = asyncio.run
        assert omop(_omop(db_url, "SELECT count(*) FROM omop.person")) == total
        assert (
            omop(_omop(db_url, "SELECT count(*) FROM omop.measurement")) == expected["measurements"]
        )
        conditions = omop(_omop(db_url, "SELECT count(*) FROM omop.condition_occurrence"))
        assert conditions == expected["conditions"] + 1
        assert omop(_omop(db_url, "SELECT count(*) FROM omop.drug_exposure")) == expected["drugs"]
        # audit: the log verifies and holds at least one record per composition
        verify = hygie("audit", "verify", env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        leaves = int(verify.stdout.split("OK:", 1)[1].split("leaves", 1)[0])
        assert leaves >= expected["compositions"]

        again = hygie("demo", *demo_args, "--no-wait", env=env, timeout=240)
        assert again.returncode == 0, again.stdout + again.stderr
        rerun = json.loads((home / "demo" / "report.json").read_text())
        assert sum(rerun["existing"][k] for k in kinds) == expected["compositions"]
        assert not any(k in rerun["created"] for k in kinds)
        tour = hygie("demo", "--tour", env=env)
        assert dup[0]["ipp"] in tour.stdout
        assert report["examples"]["patient"]["ehr_id"] in tour.stdout
    finally:
        out = _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    assert "Where to start" in out
