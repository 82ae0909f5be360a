"""Load throughput on synthetic Athena-shaped files (slow; sizes from the environment:
``HYGIE_TERM_BENCH_CONCEPTS`` / ``HYGIE_TERM_BENCH_RELATIONSHIPS``... read only here)."""

from __future__ import annotations

import os
import random
import time

import pytest

from hygie_terminology.service.loading import NullProgress, load_omop_release

from .athena_files import HEADERS
from .conftest import service_dsn

pytestmark = pytest.mark.slow


class _Timer(NullProgress):
    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = [("start", time.perf_counter())]

    def file_done(self, name: str, rows: int) -> None:
        self.marks.append((f"{name} ({rows:,})", time.perf_counter()))

    def step(self, text: str) -> None:
        self.marks.append((text, time.perf_counter()))


def _generate(directory, concepts: int, relationships: int) -> None:
    directory.mkdir()
    for name, header in HEADERS.items():
        (directory / name).write_text(header + "\n", encoding="utf-8")
    with (directory / "CONCEPT.csv").open("a", encoding="utf-8") as f:
        f.writelines(
            f"{i}\tSynthetic concept {i}\tCondition\tSYN\tClinical Finding\tS\tC{i}"
            "\t19700101\t20991231\t\n"
            for i in range(1, concepts + 1)
        )
    # Concept 1 subsumes the first 50,000 concepts (an is-a value set to expand).
    with (directory / "CONCEPT_ANCESTOR.csv").open("a", encoding="utf-8") as f:
        f.writelines(
            f"1\t{i}\t{int(i > 1)}\t{int(i > 1)}\n" for i in range(1, min(concepts, 50_000) + 1)
        )
    rnd = random.Random(7)
    with (directory / "CONCEPT_RELATIONSHIP.csv").open("a", encoding="utf-8") as f:
        f.writelines(
            f"{rnd.randint(1, concepts)}\t{rnd.randint(1, concepts)}\tMaps to"
            "\t19700101\t20991231\t\n"
            for _ in range(relationships)
        )


async def test_load_throughput(terminology, tmp_path):
    concepts = int(os.environ.get("TERM_BENCH_CONCEPTS", "200000"))
    relationships = int(os.environ.get("TERM_BENCH_RELATIONSHIPS", "1000000"))
    _generate(tmp_path / "v", concepts, relationships)
    timer = _Timer()
    started = time.perf_counter()
    result = await load_omop_release(
        uow=terminology.runtime.app.state.uow,
        dsn=service_dsn(terminology),
        directory=tmp_path / "v",
        progress=timer,
    )
    total = time.perf_counter() - started
    assert result.counts["concept"] == concepts
    assert result.counts["concept_relationship"] == relationships
    previous = timer.marks[0][1]
    for label, at in timer.marks[1:]:
        print(f"{at - previous:7.2f}s  {label}")
        previous = at
    print(
        f"total {total:.1f}s: {concepts / total:,.0f} concept rows/s and "
        f"{relationships / total:,.0f} relationship rows/s end to end"
    )
    await _operations(terminology, concepts)


async def _operations(svc, concepts: int) -> None:
    """Latency of the hot operations on the loaded release, through the HTTP app."""
    system = "https://hygie.health/fhir/omop-vocabulary/SYN"
    headers = svc.auth("clinician")
    rnd = random.Random(3)
    timings = []
    for _ in range(300):
        code = f"C{rnd.randint(1, concepts)}"
        t0 = time.perf_counter()
        r = await svc.client.get(
            "/fhir/CodeSystem/$lookup", params={"system": system, "code": code}, headers=headers
        )
        timings.append(time.perf_counter() - t0)
        assert r.status_code == 200
    timings.sort()
    print(f"$lookup p50 {timings[150] * 1000:.1f} ms, p95 {timings[285] * 1000:.1f} ms")
    codes = [{"system": system, "code": f"C{rnd.randint(1, concepts)}"} for _ in range(10_000)]
    t0 = time.perf_counter()
    r = await svc.client.post("/fhir/$translate-batch", json={"codes": codes}, headers=headers)
    print(f"batch translate of 10,000 codes {(time.perf_counter() - t0) * 1000:.0f} ms")
    assert r.status_code == 200
    t0 = time.perf_counter()
    r = await svc.client.get(
        "/fhir/ValueSet/$expand",
        params={"url": f"{system}?fhir_vs=isa/C1", "count": 100},
        headers=headers,
    )
    print(
        f"$expand first page of {r.json()['expansion']['total']:,} codes "
        f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    )
