"""Kafka clients configured from the settings, and topic creation with naming checks."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import TopicPartition

from hygie_contracts import TOPIC_PATTERN

from .config import Settings

__all__ = [
    "DLQ_SUFFIX",
    "BrokerLostData",
    "ClusterWatch",
    "InvalidTopicName",
    "admin_client",
    "broker_reachable",
    "check_topic_name",
    "client_options",
    "consumer",
    "dlq_topic",
    "ensure_topics",
    "producer",
    "topic_record_count",
]

log = logging.getLogger(__name__)
DLQ_SUFFIX = ".dlq"


class BrokerLostData(Exception):
    """The broker's cluster id changed: it is a new incarnation that lost topics and
    consumer offsets (the embedded in-memory broker after a restart)."""


class ClusterWatch:
    """Notices a broker that came back without its data, by its cluster id (Kafka keeps a
    cluster id for life; the embedded broker gets a fresh one at each start)."""

    def __init__(self, settings: Settings, *, every: float = 5.0) -> None:
        self.settings = settings
        self.every = every
        self.cluster_id: str | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._last = 0.0

    async def start(self) -> None:
        self._admin = admin_client(self.settings)
        await self._admin.start()
        self.cluster_id = (await self._admin.describe_cluster()).get("cluster_id")
        self._last = time.monotonic()

    async def check(self) -> None:
        """Raise BrokerLostData when the cluster id changed (at most every ``every`` s)."""
        if self._admin is None or time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        current = (await self._admin.describe_cluster()).get("cluster_id")
        if current != self.cluster_id:
            raise BrokerLostData(f"broker cluster id changed from {self.cluster_id} to {current}")

    async def stop(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
            self._admin = None


class InvalidTopicName(ValueError):
    """A topic name outside the platform's naming rule (ARCHITECTURE §4.2)."""


def check_topic_name(name: str) -> str:
    """Check a logical topic name: ``hygie.<domain>.v<major>`` (or ``...ingest.<domain>...``),
    optionally with the ``.dlq`` suffix."""
    base = name.removesuffix(DLQ_SUFFIX)
    if not TOPIC_PATTERN.match(base):
        raise InvalidTopicName(f"topic {name!r} does not follow hygie.<domain>.v<major>[.dlq]")
    return name


def dlq_topic(physical_topic: str) -> str:
    """The dead-letter topic of a topic."""
    return physical_topic + DLQ_SUFFIX


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every client (TLS/SASL are configuration only)."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.kafka,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": 15000,
        "retry_backoff_ms": 200,
    }
    if settings.kafka_sasl_mechanism:
        opts["sasl_mechanism"] = settings.kafka_sasl_mechanism
        opts["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            opts["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        opts["ssl_context"] = create_ssl_context()
    return opts


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """A producer. Not idempotent and not transactional: delivery is at least once and
    consumers deduplicate (Tansu refuses the idempotent producer)."""
    opts: dict[str, Any] = {
        **client_options(settings),
        "enable_idempotence": False,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 512 * 1024,
        "max_request_size": 8 * 1024 * 1024,
    }
    opts.update(overrides)
    return AIOKafkaProducer(**opts)


def consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer with manual commits (offsets are committed after the database commit)."""
    opts: dict[str, Any] = {
        **client_options(settings),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "session_timeout_ms": settings.consumer_session_timeout_ms,
        "heartbeat_interval_ms": max(settings.consumer_session_timeout_ms // 5, 1000),
        "request_timeout_ms": settings.consumer_session_timeout_ms + 30000,
    }
    opts.update(overrides)
    return AIOKafkaConsumer(*topics, **opts)


def admin_client(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings))


async def ensure_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """Create the physical topics of these logical names when missing; return the created ones."""
    wanted = {settings.topic(check_topic_name(n)) for n in names}
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(wanted - existing)
        if not missing:
            return []
        new = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                # Domain topics are the platform's record of facts: never expire them.
                topic_configs={"retention.ms": "-1"},
            )
            for name in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        log.info("created topics %s", ", ".join(missing))
        return missing
    finally:
        await admin.close()


async def broker_reachable(settings: Settings, *, timeout: float = 2.0) -> bool:
    """True when one of the bootstrap servers accepts a TCP connection."""
    import asyncio

    for server in settings.kafka.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError):
            continue
        writer.close()
        return True
    return False


async def topic_record_count(client: AIOKafkaConsumer, topic: str) -> int | None:
    """Sum of end offsets of a physical topic (None when the topic does not exist)."""
    partitions = client.partitions_for_topic(topic)
    if partitions is None:
        await client._client.force_metadata_update()
        partitions = client.partitions_for_topic(topic)
    if not partitions:
        return None
    ends = await client.end_offsets([TopicPartition(topic, p) for p in partitions])
    return int(sum(ends.values()))
