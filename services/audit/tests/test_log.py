"""The log on real PostgreSQL and broker: topic events become BALP AuditEvents at gap-free
positions of an RFC 9162 tree whose proofs verify."""

from __future__ import annotations

from uuid import uuid4

from audit_support import NOW, SPEC, entries, send

from hygie_audit.domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from hygie_contracts.access import RecordAccessed
from hygie_contracts.ehr import EhrCreated, PartyRef
from hygie_platform import kafka
from hygie_platform.cli.dlq import list_dead_letters
from hygie_platform.testing import eventually, start_service


def _bytes(h: str) -> bytes:
    return bytes.fromhex(h)


async def test_changes_and_accesses_become_balp_audit_events_at_gap_free_positions(
    hygie_settings,
):
    ehr_id = uuid4()
    async with start_service(SPEC, hygie_settings) as audit:
        created, accessed = await send(
            hygie_settings,
            EhrCreated(
                ehr_id=ehr_id,
                system_id="hygie",
                time_created=NOW,
                subject=PartyRef(namespace="ipp.site-a", id="IPP-1"),
                committer="dr-who",
            ),
            RecordAccessed(
                patient="ipp.site-a|IPP-1",
                agent="nurse-1",
                roles=("clinician",),
                organization="CHU Nord",
                resource=f"EHR/{ehr_id}",
                purpose="TREAT",
                request_id="req-42",
                occurred_at=NOW,
            ),
        )
        rows = await entries(audit, 2)
        assert [r["seq"] for r in rows] == [0, 1]
        change, access = sorted(rows, key=lambda r: r["action"] != "C")
        assert change["patient"] == access["patient"] == "ipp.site-a|IPP-1"
        assert change["event_id"] == created.id
        assert change["agents"][0] == "dr-who"
        assert change["source_event_type"] == "hygie.ehr.ehr.created.v1"
        assert access["type"] == "rest"
        assert access["action"] == "R"
        assert access["purposes"] == ["TREAT"]
        assert "req-42" in access["entities"]
        # ~2 KB records with their search columns exceed the default toast threshold: the
        # log keeps them inline and uncompressed (migration audit_0005), read as stored.
        stored = await audit.fetch(
            "SELECT length(body) AS size, pg_column_compression(body) AS method"
            " FROM audit_entry WHERE seq = :seq",
            seq=access["seq"],
        )
        assert stored[0]["size"] > 1500
        assert stored[0]["method"] is None
        headers = audit.auth("admin")
        got = await audit.client.get(f"/fhir/AuditEvent/{accessed.id}", headers=headers)
        assert got.status_code == 200, got.text
        balp = got.json()
        assert balp["resourceType"] == "AuditEvent"
        xreq = [e for e in balp["entity"] if e["type"].get("code") == "XrequestId"]
        assert xreq[0]["what"]["identifier"]["value"] == "req-42"
        assert balp["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"

        # inclusion proof of each leaf verifies against the root the service reports
        for row in rows:
            proof = (
                await audit.client.get(
                    "/audit/proof/inclusion", params={"leaf": row["seq"]}, headers=headers
                )
            ).json()
            assert _bytes(proof["leaf_hash"]) == leaf_hash(bytes(row["body"]))
            assert verify_inclusion(
                _bytes(proof["leaf_hash"]),
                row["seq"],
                proof["tree_size"],
                [_bytes(h) for h in proof["inclusion_path"]],
                _bytes(proof["root_hash"]),
            )


async def test_proofs_for_many_sizes_and_clear_4xx_outside_the_tree(hygie_settings):
    async with start_service(SPEC, hygie_settings) as audit:
        headers = audit.auth("integration")
        from audit_support import audit_event

        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"resource": audit_event(action=a)} for a in "CRUDE" * 5],
        }
        resp = await audit.client.post("/fhir/AuditEvent", json=bundle, headers=headers)
        assert resp.status_code == 200, resp.text
        await entries(audit, 25)
        roots = {}
        for size in (1, 2, 3, 7, 8, 16, 25):
            proof = await audit.client.get(
                "/audit/proof/inclusion",
                params={"leaf": size - 1, "tree_size": size},
                headers=headers,
            )
            roots[size] = _bytes(proof.json()["root_hash"])
        for first, second in [(1, 25), (3, 7), (7, 8), (8, 16), (16, 25), (25, 25)]:
            proof = (
                await audit.client.get(
                    "/audit/proof/consistency",
                    params={"first": first, "second": second},
                    headers=headers,
                )
            ).json()
            path = [_bytes(h) for h in proof["consistency_path"]]
            assert verify_consistency(first, second, roots[first], roots[second], path)
        for params, url in [
            ({"leaf": 25}, "/audit/proof/inclusion"),
            ({"leaf": 0, "tree_size": 26}, "/audit/proof/inclusion"),
            ({"leaf": 5, "tree_size": 5}, "/audit/proof/inclusion"),
            ({"first": 3, "second": 2}, "/audit/proof/consistency"),
            ({"first": 1, "second": 99}, "/audit/proof/consistency"),
        ]:
            resp = await audit.client.get(url, params=params, headers=headers)
            assert resp.status_code == 400, (params, resp.text)
            assert resp.json()["type"].endswith("/proof-out-of-range")
        resp = await audit.client.get(
            "/audit/proof/inclusion", params={"leaf": -1}, headers=headers
        )
        assert resp.status_code == 400
        assert (await audit.client.get("/audit/proof/inclusion?leaf=0")).status_code == 401


async def test_a_malformed_topic_event_is_dead_lettered_not_dropped(hygie_settings):
    async with start_service(SPEC, hygie_settings):
        good = RecordAccessed(patient="p|1", agent="a", resource="EHR/x", occurred_at=NOW)
        bad = [(k, v) for k, v in good_headers(good) if k != "ce_id"] + [
            ("ce_id", str(uuid4()).encode())
        ]
        await send(hygie_settings, ("hygie.access.v1", bad, b'{"patient": ""}'))
        topic = kafka.dlq_topic(hygie_settings.topic("hygie.access.v1"))

        async def letters():  # type: ignore[no-untyped-def]
            return await list_dead_letters(hygie_settings, topic) or None

        found = await eventually(letters)
        assert found[0].headers["x-error-type"] == "MalformedEvent"


def good_headers(event):  # type: ignore[no-untyped-def]
    from hygie_platform.envelope import envelope_for

    return envelope_for(event, source="/hygie/test").headers()
