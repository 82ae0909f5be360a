"""Dead-letter topics: list their records, replay them to their original topic."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from .. import kafka
from ..config import Settings

__all__ = ["DeadLetter", "dlq_topics", "list_dead_letters", "replay_dead_letters"]

REPLAY_GROUP = "hygie.dlq-replay"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    replayed: bool
    headers: dict[str, str]

    @property
    def reason(self) -> str:
        return self.headers.get("x-error", "")


async def dlq_topics(settings: Settings) -> list[str]:
    admin = kafka.admin_client(settings)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    return sorted(
        n for n in names if n.endswith(kafka.DLQ_SUFFIX) and n.startswith(settings.topic_prefix)
    )


async def list_dead_letters(
    settings: Settings, topic: str | None = None, *, limit: int = 1000
) -> list[DeadLetter]:
    """Every record of the DLQ topics (or one), marked replayed when already replayed."""
    topics = [topic] if topic else await dlq_topics(settings)
    out: list[DeadLetter] = []
    for name in topics:
        reader = kafka.consumer(settings, group_id=settings.topic_prefix + REPLAY_GROUP)
        await reader.start()
        try:
            parts = [TopicPartition(name, p) for p in reader.partitions_for_topic(name) or ()]
            if not parts:
                continue
            reader.assign(parts)
            ends = await reader.end_offsets(parts)
            done = {tp: (await reader.committed(tp)) or 0 for tp in parts}
            for tp in parts:
                reader.seek(tp, 0)
            remaining = {tp for tp in parts if ends[tp] > 0}
            while remaining and len(out) < limit:
                batch = await reader.getmany(timeout_ms=1000)
                if not batch:
                    break
                for tp, records in batch.items():
                    for r in records:
                        out.append(
                            DeadLetter(
                                topic=r.topic,
                                partition=r.partition,
                                offset=r.offset,
                                replayed=r.offset < done[tp],
                                headers={k: v.decode(errors="replace") for k, v in r.headers or ()},
                            )
                        )
                    if records[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()
    return out[:limit]


async def replay_dead_letters(settings: Settings, topic: str) -> int:
    """Send the not-yet-replayed records of a DLQ topic back to their original topic,
    with their original headers; remember how far it went (consumer group offsets)."""
    group = settings.topic_prefix + REPLAY_GROUP
    reader = kafka.consumer(settings, group_id=group)
    writer = kafka.producer(settings)
    await reader.start()
    await writer.start()
    sent = 0
    try:
        parts = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        if not parts:
            return 0
        reader.assign(parts)
        ends = await reader.end_offsets(parts)
        for tp in parts:
            committed = await reader.committed(tp)
            reader.seek(tp, committed or 0)
        remaining = {tp for tp in parts if (await reader.position(tp)) < ends[tp]}
        while remaining:
            batch = await reader.getmany(timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    headers = [(k, v) for k, v in r.headers or () if not k.startswith("x-")]
                    original = dict(r.headers or ()).get("x-original-topic", b"").decode()
                    target = original or topic.removesuffix(kafka.DLQ_SUFFIX)
                    await (await writer.send(target, key=r.key, value=r.value, headers=headers))
                    sent += 1
                await reader.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
                if records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await writer.stop()
        await reader.stop()
    return sent
