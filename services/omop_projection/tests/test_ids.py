"""The id map (``adapters/ids.py``): stable ids, none burnt on replays, collisions refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hygie_omop_projection.adapters.ids import ids_many


async def _ids(omop, keys):
    async with omop.runtime.app.state.uow() as uow:
        return await ids_many(uow.connection, keys)


async def _last(omop) -> int:
    (row,) = await omop.fetch("SELECT last_value AS v FROM omop_id_seq")
    return int(row["v"])


async def test_ids_are_allocated_once_and_read_back_without_burning_the_sequence(omop):
    first = await _ids(omop, {"measurement": ["c1|a|0", "c1|b|0"], "person": ["p1"]})
    assert set(first) == {"measurement", "person"}
    assert len({*first["measurement"].values(), *first["person"].values()}) == 3
    before = await _last(omop)
    again = await _ids(omop, {"measurement": ["c1|b|0", "c1|a|0", "c1|a|0"], "person": ["p1"]})
    assert again == first
    assert await _last(omop) == before  # nothing drawn for keys already mapped
    mixed = await _ids(omop, {"measurement": ["c1|a|0", "c2|a|0"]})
    assert mixed["measurement"]["c1|a|0"] == first["measurement"]["c1|a|0"]
    assert await _last(omop) == before + 1
    # the same key in another table is another row
    other = await _ids(omop, {"observation": ["c1|a|0"]})
    assert other["observation"]["c1|a|0"] not in first["measurement"].values()


async def test_two_keys_with_the_same_hash_never_share_an_id(omop):
    async with omop.runtime.app.state.uow() as uow:  # two keys of one composition colliding
        found = (
            await uow.connection.execute(
                text(
                    "SELECT min(k), max(k) FROM (SELECT 'v|' || g AS k FROM "
                    "generate_series(1, 300000) g) s GROUP BY "
                    "public.omop_id_hash('measurement', k) HAVING count(*) > 1 LIMIT 2"
                )
            )
        ).all()
    assert len(found) == 2, "fewer than 2 colliding pairs among 300,000 keys (expected ~10)"
    (one, two), (three, four) = found
    with pytest.raises(RuntimeError, match="collision"):  # both new, in one call
        await _ids(omop, {"measurement": [three, four]})
    mapped = await _ids(omop, {"measurement": [one]})
    with pytest.raises(RuntimeError, match="collision"):
        await _ids(omop, {"measurement": [two]})
    with pytest.raises(RuntimeError, match="collision"):
        await _ids(omop, {"measurement": [one, two, "v|x"]})
    assert await _ids(omop, {"measurement": [one]}) == mapped
