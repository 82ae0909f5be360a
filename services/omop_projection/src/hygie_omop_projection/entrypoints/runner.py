"""Feed one generation from the topics, its checkpoint in the same transaction as its rows.

Unlike the platform's group consumers, a generation reads every partition itself
(``assign``, no consumer group) from the offsets recorded in its own schema: a rebuild
starts at offset 0 in a fresh schema, an interrupted one resumes where it committed, and
the serving generation never depends on broker-side offsets (ARCHITECTURE §5).
Malformed records and events failing ``consumer_max_attempts`` times go to ``<topic>.dlq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from hygie_contracts import Event
from hygie_contracts.ehr import EHR_TOPIC
from hygie_platform import kafka
from hygie_platform.config import Settings
from hygie_platform.db import DatabaseUnavailable, is_connection_error
from hygie_platform.envelope import Envelope, MalformedEvent, decode_event
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters.generations import reset_if_torn
from ..adapters.store import Store
from ..service.phases import Phases
from ..service.project import Premapped, Projector
from .mapping_pool import MappingPool, committed_values

__all__ = ["GenerationRunner", "Progress", "Share"]

log = logging.getLogger(__name__)
_THREADED = 200
"""records from which a fetched batch is decoded and mapped in a thread"""
_GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """A batch is thousands of parsed compositions (~100 containers each): with CPython's
    default threshold (700 allocations) the cyclic collector runs every few records and
    rescans the survivors, ~half of the decoding time in a profile. Collections are made
    rarer, and what exists at start (modules, mappings) is frozen out of them."""
    if gc.get_threshold()[0] < _GC_THRESHOLD:
        gc.freeze()
        gc.set_threshold(_GC_THRESHOLD, 20, 20)


@dataclass(frozen=True)
class Share:
    """The partitions one writer of a generation takes: several writers (processes) build
    a generation in parallel, each its share of the clinical topic's partitions (``p %
    count == index``); the patient and terminology topics go to the writer of index 0.
    ``clinical=False``: none of the clinical partitions."""

    index: int = 0
    count: int = 1
    clinical: bool = True

    def takes(self, topic: str, partition: int) -> bool:
        if topic == EHR_TOPIC:
            return self.clinical and partition % self.count == self.index
        return self.index == 0


@dataclass
class Progress:
    """Events applied, rate, lag and ETA of a generation (``/omop/status``)."""

    generation: int
    started: float = field(default_factory=time.monotonic)
    applied: int = 0
    dead_lettered: int = 0
    lag: int | None = None
    caught_up: bool = False
    last_error: str | None = None
    phases: Phases = field(default_factory=Phases)

    def as_dict(self) -> dict[str, object]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.applied / elapsed
        eta = None if self.lag is None or rate == 0 else round(self.lag / rate, 1)
        return {
            "generation": self.generation,
            "events_applied": self.applied,
            "events_per_second": round(rate, 1),
            "lag": self.lag,
            "eta_seconds": eta,
            "caught_up": self.caught_up,
            "dead_lettered": self.dead_lettered,
            "last_error": self.last_error,
            "phases": self.phases.as_dict(),
        }


@dataclass
class _Fetched:
    """A fetched batch: decoded events, malformed records, next offsets, premapped
    compositions, and the lag measured after the fetch (None: not measured)."""

    good: list[tuple[ConsumerRecord, Envelope, Event]] = field(default_factory=list)
    bad: list[tuple[ConsumerRecord, Exception]] = field(default_factory=list)
    end: dict[tuple[str, int], int] = field(default_factory=dict)
    premapped: Premapped | None = None
    lag: int | None = None


class GenerationRunner:
    """Consumes the source topics into one generation until cancelled."""

    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWorkFactory,
        projector: Projector,
        topics: tuple[str, ...],
        *,
        on_caught_up: Callable[[GenerationRunner], Awaitable[None]] | None = None,
        on_release: Callable[[], Awaitable[None]] | None = None,
        on_topics_reset: Callable[[], Awaitable[None]] | None = None,
        refresh_seconds: float = 2.0,
        gather_seconds: float = 0.1,
        mapping_workers: int | None = 0,
        share: Share = Share(),
        threaded: bool = True,
    ) -> None:
        self.settings = settings
        self.uow = uow
        self.projector = projector
        self.topics = tuple(settings.topic(t) for t in topics)
        self.logical = topics
        self.share = share
        self.threaded = threaded
        """large batches decoded and mapped in a thread, overlapping the writes of the
        previous one (False: inline — with several writer processes the others use the
        cores, and the thread would hold the GIL while a database answer waits)"""
        self.on_caught_up = on_caught_up
        self.on_release = on_release
        self.on_topics_reset = on_topics_reset
        self.progress = Progress(projector.generation, phases=projector.phases)
        self.refresh_seconds = refresh_seconds
        self.gather_seconds = gather_seconds
        self._refreshed = 0.0
        self.pool = (
            None
            if mapping_workers == 0
            else MappingPool(projector.mappings, workers=mapping_workers)
        )
        """worker processes mapping large batches (0: a thread; None: one per spare core)"""

    async def run(self) -> None:
        tune_gc()
        try:
            await self._run()
        finally:
            if self.pool is not None:
                self.pool.close()

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            consumer = kafka.consumer(self.settings)
            dlq = kafka.producer(self.settings)
            try:
                await kafka.ensure_topics(
                    self.settings, [*self.logical, *(t + kafka.DLQ_SUFFIX for t in self.logical)]
                )
                await consumer.start()
                await dlq.start()
                await consumer.topics()  # metadata of every topic, for partitions_for_topic
                partitions = [
                    TopicPartition(t, p)
                    for t, logical in zip(self.topics, self.logical, strict=True)
                    for p in sorted(consumer.partitions_for_topic(t) or ())
                    if self.share.takes(logical, p)
                ]
                consumer.assign(partitions)
                async with self.uow() as uow:
                    if not self.projector.publish and self.share.count == 1:  # the one writer
                        await reset_if_torn(uow.connection, self.projector.schema)
                    done = await Store(uow.connection, self.projector.schema).checkpoints()
                ends = await consumer.end_offsets(partitions) if done else {}
                behind = [
                    f"{tp.topic}/{tp.partition}" for tp in partitions
                    if done.get((tp.topic, tp.partition), 0) > ends.get(tp, 0)
                ]  # fmt: skip
                if behind and self.on_topics_reset is not None:
                    # checkpoints past the end: the topics were lost and recreated (then
                    # refilled from the services' journals, ``hygie replay``); offsets no
                    # longer name the same events, so a fresh generation is built from 0
                    log.warning("omop: topics reset under generation %s (%s): rebuilding",
                                self.projector.generation, ", ".join(behind))  # fmt: skip
                    self.progress.last_error = f"topics reset: {', '.join(behind)}"
                    await self.on_topics_reset()
                clinical = self.settings.topic(EHR_TOPIC)
                started = any(
                    done.get((tp.topic, tp.partition)) for tp in partitions if tp.topic == clinical
                )
                if not started and not self.projector.publish and self.projector.seen is None:
                    # a generation whose clinical partitions (this writer's) were never
                    # read: which of their compositions it holds is tracked in memory
                    # (their previous rows need no lookup; only their owner stores them)
                    self.projector.seen = set()
                for tp in partitions:
                    consumer.seek(tp, done.get((tp.topic, tp.partition), 0))
                backoff = 0.5
                await self._loop(consumer, dlq, partitions)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError, TimeoutError, DatabaseUnavailable) as exc:
                self.progress.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("omop generation %s paused: %s", self.projector.generation, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # a bug must not stop the projection silently
                self.progress.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("omop generation %s failed; restarting", self.projector.generation)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                for client in (consumer, dlq):
                    with contextlib.suppress(Exception):
                        await client.stop()

    async def _loop(self, consumer, dlq, partitions: list[TopicPartition]) -> None:  # type: ignore[no-untyped-def]
        """Apply fetched batches in order while the next one is fetched, decoded and mapped
        (in a thread): the decoding and mapping of batch n+1 overlap the database writes
        of batch n. Lag is measured by the reader, at most every second when busy."""
        queue: asyncio.Queue[_Fetched] = asyncio.Queue(maxsize=1)
        reader = asyncio.create_task(self._read(consumer, partitions, queue))
        getting: asyncio.Future[_Fetched] | None = None
        try:
            while True:
                getting = asyncio.ensure_future(queue.get())
                await asyncio.wait({getting, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not getting.done():
                    getting.cancel()
                    reader.result()  # the reader failed: raise its error here
                    return
                fetched = getting.result()
                if fetched.end:
                    await self._process(fetched, dlq)
                if self.projector.release_activated and self.on_release is not None:
                    self.projector.release_activated = False
                    await self.on_release()
                if fetched.lag is None:
                    continue
                self.progress.lag = fetched.lag
                if fetched.lag == 0 and not self.progress.caught_up:
                    self.progress.caught_up = True
                    if self.on_caught_up is not None:
                        await self.on_caught_up(self)
        finally:
            if getting is not None:
                getting.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _read(self, consumer, partitions: list[TopicPartition], queue) -> None:  # type: ignore[no-untyped-def]
        measured = 0.0
        while True:
            started = time.perf_counter()
            batch = await self._fetch(consumer)
            self.projector.phases.add(
                "fetch", time.perf_counter() - started, sum(len(v) for v in batch.values())
            )
            size = sum(len(v) for v in batch.values())
            # a large batch is decoded in a thread, overlapping the writes of the previous
            # one; a small one (live traffic) inline: the thread's GIL contention would delay
            # every database round trip of the batch being written by up to 5 ms
            if size >= _THREADED and self.pool is not None:
                # mapped in worker processes while decoded in a thread: both overlap the
                # writes of the previous batch (the translations as cached now, with their
                # epoch: a result mapped with dropped translations is not used)
                values = committed_values([r for rs in batch.values() for r in rs])
                epoch, known = self.projector.concepts_epoch, dict(self.projector.concepts)
                mapping = asyncio.ensure_future(self.pool.premap(values, known, epoch))
                try:
                    fetched = await asyncio.to_thread(self._decode, batch, premap=False)
                    started = time.perf_counter()
                    fetched.premapped = await mapping
                    self.projector.phases.add(
                        "map (workers, waited for)", time.perf_counter() - started, len(values)
                    )
                finally:
                    mapping.cancel()
            elif size >= _THREADED and self.threaded:
                fetched = await asyncio.to_thread(self._decode, batch)
            else:
                fetched = self._decode(batch) if batch else _Fetched()
            # lag costs a broker round trip: measured when idle, else at most every second
            if not batch or time.monotonic() - measured >= 1.0:
                measured = time.monotonic()
                ends = await consumer.end_offsets(partitions)
                fetched.lag = sum(
                    [max(ends[tp] - await consumer.position(tp), 0) for tp in partitions]
                )
            await queue.put(fetched)

    def _decode(
        self, batch: dict[TopicPartition, list[ConsumerRecord]], *, premap: bool = True
    ) -> _Fetched:
        """Decode the records (malformed ones set aside) and map their compositions."""
        fetched = _Fetched()
        phases = self.projector.phases
        started = time.perf_counter()
        for tp, records in batch.items():
            fetched.end[(tp.topic, tp.partition)] = records[-1].offset + 1
            for record in records:
                try:
                    envelope, event = decode_event(record.headers, record.value)
                    fetched.good.append((record, envelope, event))
                except MalformedEvent as exc:
                    fetched.bad.append((record, exc))
        phases.add("decode", time.perf_counter() - started, len(fetched.good) + len(fetched.bad))
        if premap:
            started = time.perf_counter()
            fetched.premapped = self.projector.premap([event for _, _, event in fetched.good])
            phases.add("map", time.perf_counter() - started, len(fetched.premapped))
        return fetched

    async def _fetch(self, consumer) -> dict[TopicPartition, list[ConsumerRecord]]:  # type: ignore[no-untyped-def]
        """Records of one transaction: fetches are gathered for up to ``gather_seconds``
        until ``consumer_batch_size`` records, as a broker may answer a fetch with a single
        record batch of a partition (a few records) and a commit per fetch would then pace
        the projection (one fsync per handful of events)."""
        size = self.settings.consumer_batch_size
        batch = await consumer.getmany(timeout_ms=300, max_records=size)
        count = sum(len(v) for v in batch.values())
        deadline = time.monotonic() + self.gather_seconds
        while batch and count < size and time.monotonic() < deadline:
            more = await consumer.getmany(timeout_ms=10, max_records=size - count)
            if not more:
                break
            for tp, records in more.items():
                batch.setdefault(tp, []).extend(records)
                count += len(records)
        return batch

    async def _process(self, fetched: _Fetched, dlq) -> None:  # type: ignore[no-untyped-def]
        """Apply the records of every partition of a batch in one transaction."""
        good, bad, end = fetched.good, fetched.bad, fetched.end
        try:
            await self._apply([(e, ev) for _, e, ev in good], end, fetched.premapped)
        except Exception as exc:
            if is_connection_error(exc):
                raise DatabaseUnavailable(str(exc)) from exc
            for record, envelope, event in good:  # one by one, so one bad event fails alone
                tp = TopicPartition(record.topic, record.partition)
                error = await self._apply_alone(envelope, event, tp, record.offset)
                if error is not None:
                    bad.append((record, error))
            await self._apply([], end)
        for record, error in bad:
            await self._dead_letter(dlq, record, error)

    async def _apply(
        self, items: list[tuple[Envelope, Event]], end: dict[tuple[str, int], int],
        premapped: Premapped | None = None,
    ) -> None:  # fmt: skip
        phases = self.projector.phases
        async with self.uow() as uow:
            await self.projector.apply(uow, items, premapped=premapped)
            started = time.perf_counter()
            store = Store(uow.connection, self.projector.schema)
            await store.save_checkpoint(end)
            refresh = bool(items) and time.monotonic() - self._refreshed >= self.refresh_seconds
            if refresh:
                await store.record_refresh(self.progress.applied + len(items))
            committing = time.perf_counter()
            phases.add("checkpoint", committing - started)
        phases.add("commit", time.perf_counter() - committing)
        self.progress.applied += len(items)
        if refresh:
            self._refreshed = time.monotonic()

    async def _apply_alone(
        self, envelope: Envelope, event: Event, tp: TopicPartition, offset: int
    ) -> Exception | None:
        error: Exception | None = None
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                await self._apply([(envelope, event)], {(tp.topic, tp.partition): offset + 1})
                return None
            except Exception as exc:
                if is_connection_error(exc):
                    raise DatabaseUnavailable(str(exc)) from exc
                error = exc
                log.warning("omop: event %s failed (attempt %s): %s", envelope.id, attempt, exc)
                await asyncio.sleep(self.settings.consumer_backoff_seconds * attempt)
        return error

    async def _dead_letter(self, dlq, record: ConsumerRecord, error: Exception) -> None:  # type: ignore[no-untyped-def]
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-")]
        headers += [
            ("x-error", str(error)[:4000].encode()),
            ("x-error-type", type(error).__name__.encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-consumer-group", f"omop_projection.g{self.projector.generation}".encode()),
        ]
        await (
            await dlq.send(
                kafka.dlq_topic(record.topic), key=record.key, value=record.value, headers=headers
            )
        )
        self.progress.dead_lettered += 1
        log.error(
            "omop: dead-lettered %s/%s@%s: %s", record.topic, record.partition, record.offset, error
        )
