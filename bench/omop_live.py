"""The OMOP benchmark's live part: a projection running as a service (serving generation,
change stream journaled, relay on) fed compositions at a fixed rate; the lag of each is from
its send to its first lineage row."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from datetime import date, timedelta
from typing import Any

from rich.console import Console

from .omop_data import IPP, KEY, _concepts, clinical_composition


async def _live(settings: Any, seconds: float, rate: int, console: Console) -> dict[str, Any]:
    import asyncpg

    from hygie_contracts.patient import PatientIdentifier, PatientRegistered
    from hygie_omop_projection.adapters.translator import TableTranslator
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_omop_projection.testing import committed
    from hygie_platform import kafka
    from hygie_platform.db import asyncpg_dsn
    from hygie_platform.envelope import envelope_for
    from hygie_platform.service import ServiceRuntime

    runtime = ServiceRuntime(spec_with(translator=TableTranslator(_concepts()), key=KEY), settings)
    await runtime.prepare()
    runtime.start()
    producer = kafka.producer(settings)
    await producer.start()
    conn = await asyncpg.connect(asyncpg_dsn(runtime.dsn))
    rng = random.Random(11)
    patients = 200
    sent_at: dict[str, float] = {}
    lags: list[float] = []
    try:
        for p in range(patients):
            event = PatientRegistered(
                patient_id=uuid.UUID(int=p + 1),
                identifiers=(PatientIdentifier(system=IPP, value=f"L{p}"),),
                birth_date=date(1950, 1, 1), sex="female",
            )  # fmt: skip
            env = envelope_for(event, source="/hygie/patient_index")
            await producer.send(
                settings.topic(event.topic), key=env.key, value=env.data, headers=env.headers()
            )
        await producer.flush()
        while True:
            schema = await conn.fetchval(
                "SELECT schema_name FROM omop_generation WHERE state = 'serving'"
            )
            if schema and await conn.fetchval(
                f"SELECT count(*) FROM {schema}.patient"
            ) >= patients:  # fmt: skip
                break
            await asyncio.sleep(0.2)
        stop = asyncio.Event()

        async def poll() -> None:
            while not stop.is_set() or sent_at:
                if sent_at:
                    found = await conn.fetch(
                        f"SELECT DISTINCT versioned_object_id FROM {schema}.lineage "
                        "WHERE versioned_object_id = ANY($1::text[])",
                        list(sent_at),
                    )
                    now = time.perf_counter()
                    for r in found:
                        lags.append(now - sent_at.pop(r[0]))
                await asyncio.sleep(0.02)
                if stop.is_set() and time.perf_counter() - stopped > 30:
                    break

        poller = asyncio.create_task(poll())
        total = int(seconds * rate)
        begin = time.perf_counter()
        for i in range(total):
            target = begin + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            p = i % patients
            voi = uuid.uuid4()
            body = clinical_composition(i, rng, date(2024, 1, 1) + timedelta(days=i % 300))
            event = committed(uuid.UUID(int=10**9 + p), body, voi=voi, subject=(IPP, f"L{p}"))
            env = envelope_for(event, source="/hygie/ehr")
            sent_at[str(voi)] = time.perf_counter()
            await producer.send(
                settings.topic(event.topic), key=env.key, value=env.data, headers=env.headers()
            )
        achieved = total / (time.perf_counter() - begin)
        stopped = time.perf_counter()
        stop.set()
        await poller
        missing = len(sent_at)
    finally:
        await conn.close()
        await producer.stop()
        await runtime.app.state.generations.stop()  # type: ignore[union-attr]
        await runtime.stop()
    lags.sort()

    def pct(q: float) -> float:
        return round(lags[min(len(lags) - 1, int(q * len(lags)))], 3) if lags else float("nan")

    console.print(f"live: p50 {pct(0.5)} s, p99 {pct(0.99)} s at {achieved:.0f} commits/s")
    return {
        "commits": total,
        "commits_per_s": round(achieved, 1),
        "seconds": seconds,
        "lag_p50_s": pct(0.5),
        "lag_p95_s": pct(0.95),
        "lag_p99_s": pct(0.99),
        "lag_max_s": round(lags[-1], 3) if lags else None,
        "mean_s": round(statistics.fmean(lags), 3) if lags else None,
        "not_projected": missing,
    }
