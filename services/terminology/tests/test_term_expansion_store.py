"""Large expansions are materialised at their first request and paged by position
afterwards."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from hygie_terminology.service import expand as expand_module
from hygie_terminology.service.catalog import open_catalog
from hygie_terminology.service.expand import expand, precompute_expansions, resolve_value_set

from .conftest import VOCAB

pytestmark = pytest.mark.skipif(not VOCAB.is_dir(), reason="conformance data absent")

URL = "http://unitsofmeasure.org?fhir_vs"  # the 1,042 UCUM concepts of the shard


async def _page(svc, *, offset: int, count: int):
    async with svc.runtime.app.state.uow() as u:
        cat = await open_catalog(u.connection)
        definition = await resolve_value_set(cat, url=URL)
        return await expand(cat, definition, count=count, offset=offset, materialise_above=100)


async def test_a_large_expansion_is_stored_and_pages_match(loaded):
    assert await loaded.fetch("SELECT id FROM expansion") == []
    first = await _page(loaded, offset=0, count=50)  # a top-N sort, then stored
    stored = await loaded.fetch("SELECT total FROM expansion")
    assert stored == [{"total": 1042}]
    second = await _page(loaded, offset=50, count=50)  # read by position
    async with loaded.runtime.app.state.uow() as u:
        await u.connection.execute(text("DELETE FROM expansion"))
    assert (await _page(loaded, offset=50, count=50)).items == second.items  # computed again
    again = await _page(loaded, offset=0, count=50)  # read by position
    assert again.items == first.items
    assert again.total == first.total == 1042
    assert (await _page(loaded, offset=50, count=50)).items == second.items
    tail = await _page(loaded, offset=1040, count=50)
    assert len(tail.items) == 2
    codes = [i.code for i in again.items]
    assert codes == sorted(codes)

    r = await loaded.client.post(
        "/terminology/resources",
        json={
            "resourceType": "CodeSystem",
            "url": "urn:x",
            "status": "active",
            "content": "complete",
            "concept": [{"code": "a"}],
        },
        headers=loaded.auth("admin"),
    )
    assert r.status_code == 200
    assert await loaded.fetch("SELECT id FROM expansion") == []  # content changed: forgotten


async def test_large_expansions_of_stored_value_sets_are_precomputed(loaded):
    vs_url = "urn:hygie:test:vs:all-ucum"
    r = await loaded.client.post(
        "/terminology/resources",
        json={
            "resourceType": "ValueSet",
            "url": vs_url,
            "status": "active",
            "compose": {"include": [{"system": "http://unitsofmeasure.org"}]},
        },
        headers=loaded.auth("admin"),
    )
    assert r.status_code == 200, r.text
    async with loaded.runtime.app.state.uow() as u:
        cat = await open_catalog(u.connection)
        assert await precompute_expansions(cat, above=100) == [vs_url]
    assert await loaded.fetch("SELECT total FROM expansion") == [{"total": 1042}]
    r = await loaded.client.get(
        "/fhir/ValueSet/$expand",
        params={"url": vs_url, "count": 5, "offset": 1000},
        headers=loaded.auth("clinician"),
    )
    assert r.json()["expansion"]["total"] == 1042
    assert r.json()["expansion"]["offset"] == 1000
    assert len(r.json()["expansion"]["contains"]) == 5


async def test_a_large_expansion_requested_over_http_is_stored_after_the_answer(
    loaded, monkeypatch
):
    monkeypatch.setattr(expand_module, "MATERIALISE_ABOVE", 100)
    async with loaded.runtime.app.state.uow() as u:  # what other tests stored
        await u.connection.execute(text("DELETE FROM expansion"))
    h = loaded.auth("clinician")
    first = await loaded.client.get(
        "/fhir/ValueSet/$expand", params={"url": URL, "count": 10}, headers=h
    )
    assert first.status_code == 200
    for _ in range(100):  # stored by a task of its own once the page is answered
        if await loaded.fetch("SELECT total FROM expansion"):
            break
        await asyncio.sleep(0.05)
    assert await loaded.fetch("SELECT total FROM expansion") == [{"total": 1042}]
    again = await loaded.client.get(
        "/fhir/ValueSet/$expand", params={"url": URL, "count": 10}, headers=h
    )
    assert again.json()["expansion"]["contains"] == first.json()["expansion"]["contains"]
    assert again.json()["expansion"]["total"] == 1042
