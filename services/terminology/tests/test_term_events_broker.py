"""The terminology events reach the broker: keyed by code system, CloudEvents headers."""

from __future__ import annotations

import asyncio

import orjson

from hygie_contracts.terminology import OMOP_SYSTEM, TERMINOLOGY_TOPIC
from hygie_platform import kafka
from hygie_platform.testing import eventually, start_service
from hygie_terminology.bootstrap import make_spec


async def test_release_activation_is_published_keyed_by_the_omop_system(hygie_settings):
    async with start_service(make_spec(starter=True), hygie_settings) as svc:

        async def published():
            rows = await svc.fetch(
                "SELECT published_at FROM journal WHERE event_type = "
                "'hygie.terminology.release.activated.v1'"
            )
            return rows and rows[0]["published_at"] is not None

        await eventually(published, timeout=30)
        consumer = kafka.consumer(
            hygie_settings,
            hygie_settings.topic(TERMINOLOGY_TOPIC),
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=10_000), 15)
            records = [r for rs in batch.values() for r in rs]
        finally:
            await consumer.stop()
    assert len(records) == 1
    record = records[0]
    headers = dict(record.headers)
    assert record.key.decode() == OMOP_SYSTEM
    assert headers["ce_type"] == b"hygie.terminology.release.activated.v1"
    data = orjson.loads(record.value)
    assert data["label"] == "hygie-starter-1"
    assert {v["vocabulary_id"] for v in data["vocabularies"]} == {
        "Ethnicity",
        "LOINC",
        "UCUM",
        "Visit",
    }
