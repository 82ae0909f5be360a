"""Fixtures of the OMOP projection tests: the service on the session's real PostgreSQL and
broker, with a table translator and a fixed pseudonym key; a producer of contract events."""

from __future__ import annotations

import asyncio

import pytest

from hygie_contracts import Event
from hygie_omop_projection.adapters.translator import TableTranslator
from hygie_omop_projection.bootstrap import spec_with
from hygie_omop_projection.domain.mapper import Concept
from hygie_platform import kafka
from hygie_platform.envelope import Envelope, envelope_for
from hygie_platform.testing import start_service

KEY = b"test-pseudonym-key-0123456789abc"
CONCEPTS = {
    ("LOINC", "2345-7"): Concept(3004501, 3004501),
    ("UCUM", "mg/dL"): Concept(8840, 8840),
    ("ICD10", "E11.9"): Concept(201826, 45576876),
}


@pytest.fixture
def translator():
    return TableTranslator(CONCEPTS)


@pytest.fixture
async def omop(hygie_settings, translator):
    """The running projection (relay and generation runners)."""
    async with start_service(spec_with(translator=translator, key=KEY), hygie_settings) as svc:
        try:
            yield svc
        finally:
            await svc.runtime.app.state.generations.stop()


@pytest.fixture
async def publish(hygie_settings):
    """``await publish(*events)``: send contract events to their topics (binary mode)."""
    producer = kafka.producer(hygie_settings)
    await producer.start()

    async def send(*items: Event | Envelope) -> list[Envelope]:
        sent, pending = [], []
        for item in items:
            envelope = item if isinstance(item, Envelope) else envelope_for(item, source="/test")
            topic = hygie_settings.topic(
                item.topic if isinstance(item, Event) else _topic_of(envelope)
            )
            pending.append(
                await producer.send(
                    topic, key=envelope.key, value=envelope.data, headers=envelope.headers()
                )
            )
            sent.append(envelope)
        await asyncio.gather(*pending)  # order holds per partition: one producer, in order
        return sent

    try:
        yield send
    finally:
        await producer.stop()


def _topic_of(envelope: Envelope) -> str:
    from hygie_contracts import event_class

    cls = event_class(envelope.type)
    assert cls is not None
    return cls.topic
