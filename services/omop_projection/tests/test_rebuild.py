"""Blue/green rebuild: a new generation from offset 0, swapped in when caught up, with the
same row ids; the change stream and the rebuild event are journaled."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from sqlalchemy import text

from hygie_omop_projection.testing import blood_pressure, committed, composition, registered
from hygie_platform.testing import eventually

IPP = "urn:oid:1.2.250.1.71.4.2.7"
ROWS = "SELECT measurement_id, person_id, value_as_number FROM omop.measurement ORDER BY 1"


async def test_rebuild_builds_a_new_generation_and_swaps_it_in_with_the_same_ids(omop, publish):
    patient, ehr = uuid4(), uuid4()
    await publish(
        registered(patient, ipp="RB"),
        committed(ehr, composition(blood_pressure(140, 90)), subject=(IPP, "RB")),
    )
    before = await eventually(lambda: omop.fetch(ROWS))
    admin = omop.auth("admin")
    assert (
        await omop.client.post("/omop/rebuild", headers=omop.auth("analyst"))
    ).status_code == 403
    started = await omop.client.post("/omop/rebuild", headers=admin)
    assert started.status_code == 202
    assert started.json()["generation"] == 2

    async def swapped():
        status = (await omop.client.get("/omop/status", headers=admin)).json()
        return status if status["serving"] == 2 and status["building"] is None else None

    status = await eventually(swapped, timeout=30)
    assert status["g2"]["events_applied"] >= 2
    assert await omop.fetch(ROWS) == before
    states = await omop.fetch("SELECT generation, state FROM omop_generation ORDER BY 1")
    assert states == [{"generation": 1, "state": "retired"}, {"generation": 2, "state": "serving"}]
    # every table of the serving generation is durable (logged)
    persistence = await omop.fetch(
        "SELECT c.relpersistence::text AS p, count(*) AS n FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'omop_g2' AND c.relkind = 'r' GROUP BY 1"
    )
    assert [r["p"] for r in persistence] == ["p"]

    # The retired generation's schema is dropped right after the swap (asynchronously).
    async def dropped():
        gone = await omop.fetch("SELECT 1 FROM pg_namespace WHERE nspname = 'omop_g1'") == []
        return gone or None

    assert await eventually(dropped, timeout=15)
    (ids,) = await omop.fetch(
        "SELECT count(*) AS n, (SELECT last_value FROM omop_id_seq) AS last FROM omop_id_map"
    )
    assert ids["n"] == ids["last"]  # the rebuild reused every id, none drawn in vain

    # the new generation serves live events and publishes the change stream
    await publish(committed(ehr, composition(blood_pressure(100, 60)), subject=(IPP, "RB")))
    await eventually(lambda: omop.fetch("SELECT 1 FROM omop.measurement HAVING count(*) = 4"))
    journal = await omop.fetch("SELECT event_type, count(*) AS n FROM journal GROUP BY 1")
    counts = {r["event_type"]: r["n"] for r in journal}
    assert counts["hygie.omop.rebuild.completed.v1"] == 1
    assert counts["hygie.omop.row.changed.v1"] > 0


async def test_an_interrupted_rebuild_resumes_at_the_next_start(
    hygie_settings, translator, publish
):
    from hygie_omop_projection.adapters.generations import create_generation
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_platform.testing import start_service

    from .conftest import KEY

    spec = spec_with(translator=translator, key=KEY)
    patient, ehr = uuid4(), uuid4()
    async with start_service(spec, hygie_settings) as svc:
        try:
            await publish(
                registered(patient, ipp="RS"),
                committed(ehr, composition(blood_pressure(140, 90)), subject=(IPP, "RS")),
            )
            before = await eventually(lambda: svc.fetch(ROWS))
            async with svc.runtime.app.state.uow() as uow:  # a rebuild that never ran
                await create_generation(uow.connection, state="building")
        finally:
            await svc.runtime.app.state.generations.stop()
    async with start_service(spec, hygie_settings) as svc:
        try:

            async def serving_two():
                found = await svc.fetch("SELECT state FROM omop_generation WHERE generation = 2")
                return found == [{"state": "serving"}] or None

            await eventually(serving_two, timeout=30)
            assert await svc.fetch(ROWS) == before
        finally:
            await svc.runtime.app.state.generations.stop()


async def test_topics_refilled_from_the_journals_trigger_a_rebuild_and_a_restart_does_not(
    hygie_settings, translator, publish
):
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_platform.testing import start_service

    from .conftest import KEY

    spec = spec_with(translator=translator, key=KEY)
    patient, ehr = uuid4(), uuid4()
    generations = "SELECT generation, state FROM omop_generation ORDER BY generation"
    async with start_service(spec, hygie_settings) as svc:
        try:
            await publish(
                registered(patient, ipp="TR"),
                committed(ehr, composition(blood_pressure(133, 88)), subject=(IPP, "TR")),
            )
            before = await eventually(lambda: svc.fetch(ROWS))
        finally:
            await svc.runtime.app.state.generations.stop()
    async with start_service(spec, hygie_settings) as svc:  # a plain restart: no rebuild
        try:
            await eventually(lambda: svc.fetch("SELECT 1 FROM omop_g1.refresh"))
            await asyncio.sleep(1.5)
            assert await svc.fetch(generations) == [{"generation": 1, "state": "serving"}]
        finally:
            await svc.runtime.app.state.generations.stop()
        # topics lost and refilled from the journals: the offsets no longer name the events
        async with svc.runtime.app.state.uow() as uow:
            await uow.connection.execute(
                text("UPDATE omop_g1.checkpoint SET next_offset = next_offset + 1000")
            )
    async with start_service(spec, hygie_settings) as svc:
        try:

            async def serving_two():
                found = await svc.fetch("SELECT state FROM omop_generation WHERE generation = 2")
                return found == [{"state": "serving"}] or None

            await eventually(serving_two, timeout=30)
            assert await svc.fetch(ROWS) == before
        finally:
            await svc.runtime.app.state.generations.stop()


async def test_a_vocabulary_release_triggers_a_rebuild(omop, publish):
    from datetime import UTC, datetime

    from hygie_contracts.terminology import ReleaseActivated

    await publish(
        ReleaseActivated(
            release_id=2, label="v5 2025-08", concept_count=10, relationship_count=5,
            activated_at=datetime.now(UTC),
        )
    )  # fmt: skip

    async def rebuilt():
        found = await omop.fetch("SELECT generation, state FROM omop_generation ORDER BY 1")
        return found if found[-1] == {"generation": 2, "state": "serving"} else None

    await eventually(rebuilt, timeout=30)
    await publish(registered(uuid4(), ipp="after-release"))
    await eventually(lambda: omop.fetch("SELECT 1 FROM omop.person"))
    generations = await omop.fetch("SELECT generation FROM omop_generation")
    assert len(generations) == 2  # the release in the new generation's history: no loop
    (source,) = await omop.fetch("SELECT vocabulary_version FROM omop.cdm_source")
    assert source["vocabulary_version"] == "v5 2025-08"


async def test_one_replica_leads_and_a_standby_takes_over(hygie_settings, translator, publish):
    from contextlib import AsyncExitStack

    from hygie_omop_projection.bootstrap import spec_with
    from hygie_platform.testing import start_service

    from .conftest import KEY

    spec = spec_with(translator=translator, key=KEY)
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(start_service(spec, hygie_settings))
        second = await stack.enter_async_context(start_service(spec, hygie_settings))
        replicas = [first, second]

        async def leaders():
            found = [r for r in replicas if r.runtime.app.state.generations.leader]
            return found if len(found) == 1 else None

        (leader,) = await eventually(leaders)
        standby = second if leader is first else first
        # a standby answers from the database too
        answer = await standby.client.get("/omop/status", headers=standby.auth("admin"))
        assert answer.json()["serving"] == 1
        assert answer.json()["leader"] is False

        await leader.runtime.app.state.generations.stop()
        replicas.remove(leader)
        await eventually(leaders, timeout=20)
        await publish(registered(uuid4(), ipp="takeover"))
        await eventually(lambda: standby.fetch("SELECT 1 FROM omop.person"))
        await standby.runtime.app.state.generations.stop()


async def test_a_rebuild_one_event_per_batch_replaces_versions_and_applies_deletions(
    hygie_settings, translator, publish
):
    """A rebuilt generation tracks the compositions it holds in memory: a later version or
    a deletion in a later batch still finds and replaces the rows of the earlier one."""
    from hygie_omop_projection.bootstrap import spec_with
    from hygie_omop_projection.testing import deleted
    from hygie_platform.testing import start_service

    from .conftest import KEY

    settings = hygie_settings.model_copy(update={"consumer_batch_size": 1})
    patient, ehr, kept, gone = uuid4(), uuid4(), uuid4(), uuid4()
    await publish(
        registered(patient, ipp="V1"),
        committed(ehr, composition(blood_pressure(140, 90)), voi=kept, subject=(IPP, "V1")),
        committed(ehr, composition(blood_pressure(120, 80)), voi=gone, subject=(IPP, "V1")),
        committed(ehr, composition(blood_pressure(110, 70)), voi=kept, version=2,
                  subject=(IPP, "V1")),
        deleted(ehr, gone, 1),
    )  # fmt: skip
    async with start_service(spec_with(translator=translator, key=KEY), settings) as svc:
        try:
            live = await eventually(lambda: _two_rows(svc), timeout=30)
            assert sorted(r["value_as_number"] for r in live) == [70, 110]
            admin = svc.auth("admin")
            assert (await svc.client.post("/omop/rebuild", headers=admin)).status_code == 202

            seen: dict[str, object] = {}

            async def swapped():
                status = (await svc.client.get("/omop/status", headers=admin)).json()
                seen.update(status)
                return (status["serving"] == 2 and status["building"] is None) or None

            try:  # writer processes are spawned: slower on a loaded machine
                await eventually(swapped, timeout=60)
            except AssertionError:
                raise AssertionError(f"the rebuild did not swap; last status {seen}") from None
            assert await svc.fetch(ROWS) == live  # the same rows, the same ids
            lineage = await svc.fetch(
                "SELECT count(*) AS n FROM omop_g2.lineage WHERE omop_table = 'measurement'"
            )
            assert lineage == [{"n": 2}]
        finally:
            await svc.runtime.app.state.generations.stop()


async def _two_rows(svc):  # type: ignore[no-untyped-def]
    rows = await svc.fetch(ROWS)
    return rows if len(rows) == 2 and {r["value_as_number"] for r in rows} == {70, 110} else None


async def test_a_generation_torn_by_a_crash_before_its_swap_is_emptied_before_it_resumes(omop):
    """A generation built UNLOGGED (as earlier versions did): the swap makes its large
    tables durable on several connections first, the checkpoints last; a crash in between
    leaves rows in logged tables while the unlogged checkpoints are gone, and the build
    must then restart from an empty generation."""
    from hygie_omop_projection.adapters import generations as gens

    async with omop.runtime.app.state.uow() as uow:
        building = await gens.create_generation(uow.connection, state="building", unlogged=True)
    s = building.schema
    async with omop.runtime.app.state.uow() as uow:
        await uow.connection.execute(
            text(f"INSERT INTO {s}.ehr (ehr_id, queryable) VALUES (gen_random_uuid(), true)")
        )
        await uow.connection.execute(text(f"INSERT INTO {s}.checkpoint VALUES ('t', 0, 5)"))
    made = await gens.make_durable_concurrently(omop.runtime.app.state.uow.engine, s)
    assert len(made) > 1
    assert "ehr" in made
    assert "checkpoint" not in made
    persistence = f"""SELECT c.relname AS t, c.relpersistence::text AS p FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{s}'
        AND c.relkind = 'r' AND c.relname IN ('ehr', 'checkpoint') ORDER BY 1"""
    assert await omop.fetch(persistence) == [{"t": "checkpoint", "p": "u"}, {"t": "ehr", "p": "p"}]
    async with omop.runtime.app.state.uow() as uow:  # checkpoints present: nothing is torn
        assert not await gens.reset_if_torn(uow.connection, s)
    assert await omop.fetch(f"SELECT count(*) AS n FROM {s}.ehr") == [{"n": 1}]
    # what a crash of PostgreSQL does to the unlogged checkpoints
    async with omop.runtime.app.state.uow() as uow:
        await uow.connection.execute(text(f"DELETE FROM {s}.checkpoint"))
    async with omop.runtime.app.state.uow() as uow:
        assert await gens.reset_if_torn(uow.connection, s)
    assert await omop.fetch(f"SELECT count(*) AS n FROM {s}.ehr") == [{"n": 0}]
