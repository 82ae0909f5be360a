"""Appending from topics in batches: one fetch, one transaction, patients resolved within
the batch; records staged by earlier versions of the service are not lost."""

from __future__ import annotations

from uuid import uuid4

import orjson
from audit_support import NOW, SPEC, audit_event, entries, send, superuser

from hygie_audit.domain.merkle import leaf_hash, mth
from hygie_contracts.access import RecordAccessed
from hygie_contracts.ehr import AuditDetails, CompositionCommitted, EhrCreated, PartyRef
from hygie_platform.testing import start_service


async def test_a_batch_names_the_patient_of_an_ehr_created_earlier_in_it(hygie_settings):
    ehr_id = uuid4()
    others = [
        RecordAccessed(patient=f"p|{i}", agent="a", resource="EHR/x", occurred_at=NOW)
        for i in range(300)
    ]
    # On the broker before the service starts: one fetch holds them all.
    await send(
        hygie_settings,
        EhrCreated(
            ehr_id=ehr_id,
            system_id="hygie",
            time_created=NOW,
            subject=PartyRef(namespace="ipp", id="IPP-7"),
        ),
        CompositionCommitted(
            ehr_id=ehr_id,
            version_uid="c1::hygie::1",
            contribution_id=uuid4(),
            template_id="t",
            archetype_id="openEHR-EHR-COMPOSITION.encounter.v1",
            audit=AuditDetails(
                system_id="hygie",
                time_committed=NOW,
                change_type="creation",
                committer="dr-who",
            ),
            composition={"name": {"value": "secret clinical content"}},
        ),
        *others,
    )
    async with start_service(SPEC, hygie_settings) as audit:
        rows = await entries(audit, 302)
        assert [r["seq"] for r in rows] == list(range(302))
        by_type = {r["source_event_type"]: r for r in rows}
        committed = by_type["hygie.ehr.composition.committed.v1"]
        assert committed["patient"] == by_type["hygie.ehr.ehr.created.v1"]["patient"] == "ipp|IPP-7"
        assert committed["agents"][0] == "dr-who"
        assert b"secret clinical content" not in bytes(committed["body"])
        assert await audit.fetch("SELECT patient FROM ehr_subject") == [{"patient": "ipp|IPP-7"}]
        # every leaf is the hash of its record's bytes, every node of its children
        leaves = [leaf_hash(bytes(r["body"])) for r in rows]
        stored = await audit.fetch("SELECT idx, hash FROM merkle_node WHERE level = 0 ORDER BY idx")
        assert [bytes(r["hash"]) for r in stored] == leaves
        top = await audit.fetch("SELECT hash FROM merkle_node WHERE level = 8 AND idx = 0")
        assert bytes(top[0]["hash"]) == mth(leaves[:256])


async def test_records_left_pending_by_an_earlier_version_are_appended_at_start(
    hygie_settings,
):
    async with start_service(SPEC, hygie_settings, background=False) as audit:
        conn = await superuser(audit)
        try:
            event_id = uuid4()
            await conn.execute(
                "INSERT INTO audit_pending (event_id, resource, subject) VALUES ($1, $2, 's')",
                event_id,
                orjson.dumps(audit_event()),
            )
        finally:
            await conn.close()
    async with start_service(SPEC, hygie_settings) as audit:
        rows = await entries(audit, 1)
        assert rows[0]["event_id"] == event_id
        assert rows[0]["subject"] == "s"
        assert await audit.fetch("SELECT id FROM audit_pending") == []
