"""Delivery guarantees on the real broker and database: order, idempotence, dead letters,
broker outage."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import orjson
import pytest

from hygie_platform import kafka
from hygie_platform.cli.dlq import list_dead_letters, replay_dead_letters
from hygie_platform.envelope import envelope_for
from hygie_platform.testing import eventually, start_service
from hygie_platform.testing.probe import (
    CONSUMER,
    PROBE_TOPIC,
    PRODUCER,
    ItemRecorded,
    journal_items,
)


async def _items(svc) -> list[dict]:  # type: ignore[no-untyped-def]
    return await svc.fetch("SELECT item, value FROM item ORDER BY n")


async def test_journal_is_gap_free_and_published_in_order(hygie_settings):
    async with (
        start_service(PRODUCER, hygie_settings) as prod,
        start_service(CONSUMER, hygie_settings) as cons,
    ):
        uow = prod.runtime.app.state.uow
        # 20 concurrent writers, 10 events each, all on one key: order must hold per key.
        await asyncio.gather(
            *(journal_items(uow, [("k", w * 10 + i) for i in range(10)]) for w in range(20))
        )
        rows = await prod.fetch("SELECT seq, data FROM journal ORDER BY seq")
        assert [r["seq"] for r in rows] == list(range(1, 201))
        journal_order = [r["data"]["value"] for r in rows]
        got = await eventually(lambda: _full(cons, 200))
        assert [r["value"] for r in got] == journal_order


async def _full(svc, n):  # type: ignore[no-untyped-def]
    rows = await _items(svc)
    return rows if len(rows) >= n else None


async def test_duplicate_delivery_does_not_duplicate_the_effect(hygie_settings):
    async with start_service(CONSUMER, hygie_settings) as cons:
        env = envelope_for(ItemRecorded(item="dup", value=1), source="/hygie/test")
        producer = kafka.producer(hygie_settings)
        await producer.start()
        try:
            for _ in range(3):  # the same event id delivered three times
                await producer.send_and_wait(
                    hygie_settings.topic(PROBE_TOPIC),
                    key=env.key,
                    value=env.data,
                    headers=env.headers(),
                )
            marker = envelope_for(ItemRecorded(item="dup", value=2), source="/hygie/test")
            await producer.send_and_wait(
                hygie_settings.topic(PROBE_TOPIC),
                key=marker.key,
                value=marker.data,
                headers=marker.headers(),
            )
        finally:
            await producer.stop()
        rows = await eventually(lambda: _full(cons, 2))
        assert rows == [{"item": "dup", "value": 1}, {"item": "dup", "value": 2}]
        status = cons.runtime.runners[0].status
        assert status.skipped_duplicates == 2


async def test_poison_events_are_dead_lettered_and_the_partition_keeps_flowing(hygie_settings):
    async with start_service(CONSUMER, hygie_settings) as cons:
        topic = hygie_settings.topic(PROBE_TOPIC)
        good_before = envelope_for(ItemRecorded(item="p", value=1), source="/hygie/test")
        failing = envelope_for(ItemRecorded(item="p", value=-5), source="/hygie/test")
        good_after = envelope_for(ItemRecorded(item="p", value=2), source="/hygie/test")
        bad_json = [(k, v) for k, v in good_before.headers() if k != "ce_id"] + [
            ("ce_id", str(uuid4()).encode())
        ]
        unknown = [
            (k, v if k != "ce_type" else b"hygie.probe.item.vanished.v1")
            for k, v in good_before.headers()
        ]
        producer = kafka.producer(hygie_settings)
        await producer.start()
        try:
            for headers, value in [
                (good_before.headers(), good_before.data),
                (bad_json, b"{not json"),
                (unknown, good_before.data),
                ([("content-type", b"application/json")], b"{}"),  # no CloudEvents headers
                (failing.headers(), failing.data),
                (good_after.headers(), good_after.data),
            ]:
                await producer.send_and_wait(topic, key=b"p", value=value, headers=headers)
        finally:
            await producer.stop()
        rows = await eventually(lambda: _full(cons, 2))
        assert rows == [{"item": "p", "value": 1}, {"item": "p", "value": 2}]
        letters = await eventually(lambda: _letters(hygie_settings, 4))
        reasons = sorted(d.headers["x-error-type"] for d in letters)
        assert reasons == ["MalformedEvent", "MalformedEvent", "UnknownEventType", "ValueError"]
        failed = next(d for d in letters if d.headers["x-error-type"] == "ValueError")
        assert failed.headers["x-attempts"] == str(hygie_settings.consumer_max_attempts)
        assert "negative value -5 refused" in failed.reason
        assert failed.headers["x-original-topic"] == topic
        assert {"x-original-partition", "x-original-offset", "ce_id"} <= failed.headers.keys()


async def _letters(settings, n):  # type: ignore[no-untyped-def]
    letters = await list_dead_letters(settings, kafka.dlq_topic(settings.topic(PROBE_TOPIC)))
    return letters if len(letters) >= n else None


async def test_a_replayed_dead_letter_is_applied_once_the_cause_is_fixed(hygie_settings):
    async with start_service(CONSUMER, hygie_settings) as cons:
        topic = hygie_settings.topic(PROBE_TOPIC)
        failing = envelope_for(ItemRecorded(item="r", value=-1), source="/hygie/test")
        producer = kafka.producer(hygie_settings)
        await producer.start()
        try:
            await producer.send_and_wait(
                topic, key=b"r", value=failing.data, headers=failing.headers()
            )
        finally:
            await producer.stop()
        await eventually(lambda: _letters(hygie_settings, 1))
        # The "fix": the handler now accepts the value (here, by correcting the table rule).
        await cons.fetch("SELECT 1")  # the service still serves
        from hygie_platform.testing import probe

        original = probe.apply_item.__code__
        try:
            probe.apply_item.__code__ = _accepting.__code__
            sent = await replay_dead_letters(hygie_settings, kafka.dlq_topic(topic))
            assert sent == 1
            rows = await eventually(lambda: _full(cons, 1))
            assert rows == [{"item": "r", "value": -1}]
        finally:
            probe.apply_item.__code__ = original
        letters = await list_dead_letters(hygie_settings, kafka.dlq_topic(topic))
        assert [d.replayed for d in letters] == [True]
        assert await replay_dead_letters(hygie_settings, kafka.dlq_topic(topic)) == 0


async def _accepting(uow, envelope, event):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    await uow.connection.execute(
        text("INSERT INTO item (event_id, item, value, trace) VALUES (:e, :i, :v, :t)"),
        {"e": envelope.id, "i": event.item, "v": event.value, "t": envelope.traceparent},
    )


async def test_events_journaled_while_the_broker_is_down_are_delivered_after_it_returns(
    hygie_settings, hygie_infra
):
    if hygie_infra.broker is None:
        pytest.skip("needs the embedded broker (it is stopped and restarted)")
    async with (
        start_service(PRODUCER, hygie_settings) as prod,
        start_service(CONSUMER, hygie_settings) as cons,
    ):
        uow = prod.runtime.app.state.uow
        await journal_items(uow, [("b", 1)])
        await eventually(lambda: _full(cons, 1))
        hygie_infra.broker.stop()
        try:
            await journal_items(uow, [("b", 2), ("b", 3)])  # writes still succeed
            _ok, body = await eventually(lambda: _unhealthy(prod))
            assert body["broker"] == "unreachable"
            assert body["outbox_backlog"] >= 1
        finally:
            hygie_infra.broker.start()
        # The restarted broker lost every topic: the relay refills it from the journal and
        # the idempotent consumer skips what it had already applied.
        rows = await eventually(lambda: _full(cons, 3), timeout=60)
        assert rows == [
            {"item": "b", "value": 1},
            {"item": "b", "value": 2},
            {"item": "b", "value": 3},
        ]
        await asyncio.sleep(1)
        assert len(await _items(cons)) == 3


async def _unhealthy(svc):  # type: ignore[no-untyped-def]
    ok, body = await svc.runtime.health()
    return (ok, body) if not ok and (body["outbox_backlog"] or 0) >= 1 else None


def test_envelope_data_is_the_event_json():
    env = envelope_for(ItemRecorded(item="x", value=3), source="/hygie/test")
    assert orjson.loads(env.data) == {"item": "x", "value": 3}
    assert env.key == b"x"


async def test_a_batch_handler_applies_each_event_once_and_isolates_a_failing_one(hygie_settings):
    from hygie_platform.testing.probe import BATCH_CONSUMER

    async with (
        start_service(PRODUCER, hygie_settings) as prod,
        start_service(BATCH_CONSUMER, hygie_settings) as cons,
    ):
        uow = prod.runtime.app.state.uow
        await journal_items(uow, [("m", 1), ("m", 2), ("m", -3), ("m", 4)])
        rows = await eventually(lambda: _full(cons, 3))
        assert rows == [
            {"item": "m", "value": 1},
            {"item": "m", "value": 2},
            {"item": "m", "value": 4},
        ]
        letters = await eventually(lambda: _letters(hygie_settings, 1))
        assert [d.headers["x-error-type"] for d in letters] == ["ValueError"]
        # Redelivering the whole journal changes nothing: every id is in the inbox.
        from hygie_platform.relay import republish_journal

        assert await republish_journal(hygie_settings, prod.runtime.dsn) == 4
        await asyncio.sleep(3)
        assert len(await _items(cons)) == 3


async def test_staged_writes_run_at_commit_in_order_and_roll_back_with_the_rest(hygie_settings):
    from sqlalchemy import text

    async with start_service(PRODUCER, hygie_settings, background=False) as prod:
        engine = prod.runtime.engine
        assert engine is not None
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE staged (n int PRIMARY KEY, v text)"))
        insert = text("INSERT INTO staged (n, v) VALUES (:n, :v)")
        update = text("UPDATE staged SET v = :v WHERE n = :n")
        uow = prod.runtime.app.state.uow
        async with uow() as u:
            for n in range(5):
                u.stage(insert, {"n": n, "v": "a"})
            u.stage(update, {"n": 0, "v": "b"})  # runs after the inserts it follows
            u.record(ItemRecorded(item="s", value=1))
        rows = await prod.fetch("SELECT n, v FROM staged ORDER BY n")
        assert rows == [{"n": 0, "v": "b"}] + [{"n": n, "v": "a"} for n in range(1, 5)]

        async def clashing() -> None:
            async with uow() as u:
                u.stage(insert, {"n": 10, "v": "x"})
                u.stage(insert, {"n": 1, "v": "dup"})  # fails at commit: nothing kept
                u.record(ItemRecorded(item="s", value=2))

        with pytest.raises(Exception, match="duplicate key"):
            await clashing()
        assert len(await prod.fetch("SELECT n FROM staged")) == 5
        assert len(await prod.fetch("SELECT seq FROM journal")) == 1


async def test_journal_values_are_stored_exactly_and_the_connection_stays_usable(hygie_settings):
    # The journal rows go to PostgreSQL with the COMMIT in one message, as SQL literals:
    # quotes, backslashes, escapes, dollar quotes and non-ASCII text arrive unchanged.
    tricky = "it's \\'; DROP TABLE journal; -- $$ \\x41 \\\\ \" é 漢 \u2028"
    async with start_service(PRODUCER, hygie_settings, background=False) as prod:
        uow = prod.runtime.app.state.uow
        for _ in range(3):  # the pooled connection is reused after each such commit
            await journal_items(uow, [(tricky, 1), (tricky + "2", 2)])

        async def failing() -> None:
            async with uow() as u:  # an exception still rolls back: nothing journaled
                u.record(ItemRecorded(item="rolled back", value=9))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await failing()
        rows = await prod.fetch("SELECT seq, event_key, data FROM journal ORDER BY seq")
        assert [r["seq"] for r in rows] == list(range(1, 7))
        assert [r["event_key"] for r in rows] == [tricky, tricky + "2"] * 3
        assert [r["data"]["item"] for r in rows] == [tricky, tricky + "2"] * 3
        assert not await prod.fetch(
            "SELECT 1 FROM pg_stat_activity "
            "WHERE datname = current_database() AND state LIKE 'idle in%'"
        )
