"""Compositions mapped in worker processes give what the runner would map itself."""

from __future__ import annotations

from uuid import uuid4

import pytest

from hygie_omop_projection.domain.mappings import load_mappings
from hygie_omop_projection.entrypoints import mapping_pool
from hygie_omop_projection.entrypoints.mapping_pool import MappingPool
from hygie_omop_projection.service.materialise import map_one
from hygie_omop_projection.testing import (
    blood_pressure,
    committed,
    composition,
    lab_result,
    problem,
    quantity,
)
from hygie_platform.envelope import envelope_for

from .conftest import CONCEPTS


def _records(n: int) -> list[tuple[str, bytes, dict]]:
    out = []
    for k in range(n):
        body = composition(
            blood_pressure(100 + k, 70), lab_result([("2345-7", quantity(90 + k, "mg/dL"))]),
            problem("ICD10", "E11.9" if k % 2 else "X99.9"),
        )  # fmt: skip
        voi = uuid4()
        env = envelope_for(committed(uuid4(), body, voi=voi, version=2), source="/test")
        out.append((str(voi), env.data, body))
    return out


def test_a_chunk_is_mapped_as_the_runner_maps_and_bad_records_are_skipped():
    mappings = load_mappings()
    mapping_pool._start(mappings)
    records = _records(3)
    values = [data for _, data, _ in records] + [b"{not json", b'{"version_uid": 1}']
    premapped = mapping_pool._map_chunk(values, dict(CONCEPTS), 7)
    assert sorted(premapped) == sorted(voi for voi, _, _ in records)
    for voi, _, body in records:
        version_uid, epoch, mapped, misses = premapped[voi]
        assert (version_uid, epoch) == (f"{voi}::hygie::2", 7)
        assert (mapped, misses) == map_one(body, voi, mappings, dict(CONCEPTS))
        assert misses == {("ICD10", "X99.9")} or not misses


@pytest.mark.slow
async def test_a_process_pool_premaps_a_batch():
    pool = MappingPool(load_mappings(), workers=2)
    records = _records(5)
    try:
        premapped = await pool.premap([data for _, data, _ in records], dict(CONCEPTS), 0)
    finally:
        pool.close()
    assert {voi: p[2].rows for voi, p in premapped.items()} == {
        voi: map_one(body, voi, load_mappings(), dict(CONCEPTS))[0].rows for voi, _, body in records
    }
