"""Tamper evidence: signed tree heads, full verification naming what changed, the
append-only database, retention that keeps the tree verifiable."""

from __future__ import annotations

import base64

import pytest
from audit_support import SPEC, audit_event, entries, superuser
from sqlalchemy.exc import DBAPIError

from hygie_audit.bootstrap import make_spec
from hygie_audit.config import AuditOptions
from hygie_audit.service import verify as verify_module
from hygie_audit.service.verify import verify_log
from hygie_platform.config import ConfigError
from hygie_platform.testing import eventually, start_service


async def _feed(audit, n: int) -> None:  # type: ignore[no-untyped-def]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": audit_event(action="R")} for _ in range(n)],
    }
    resp = await audit.client.post(
        "/fhir/AuditEvent", json=bundle, headers=audit.auth("integration")
    )
    assert resp.status_code == 200, resp.text
    await entries(audit, n)


async def _verify(audit):  # type: ignore[no-untyped-def]
    async with audit.runtime.engine.connect() as conn:
        return await verify_log(conn, audit.runtime.app.state.audit_key)


async def test_tree_heads_are_signed_published_and_forgeries_refused(hygie_settings):
    async with start_service(SPEC, hygie_settings) as audit:
        await _feed(audit, 5)
        admin = audit.auth("admin")
        head = (await audit.client.post("/audit/tree-heads", headers=admin)).json()
        assert head["tree_size"] == 5
        assert head["algorithm"] == "Ed25519"
        published = await audit.fetch(
            "SELECT event_type, data FROM journal WHERE topic = 'hygie.audit.v1'"
        )
        assert {p["event_type"] for p in published} == {"hygie.audit.tree_head.signed.v1"}
        assert head["root_hash"] in {p["data"]["root_hash"] for p in published}
        ok = await audit.client.post("/audit/tree-heads/verify", json=head, headers=admin)
        assert ok.status_code == 200
        assert ok.json()["valid"] is True
        sig = bytearray(base64.b64decode(head["signature"]))
        sig[0] ^= 1
        forged = {**head, "signature": base64.b64encode(bytes(sig)).decode()}
        bad = await audit.client.post("/audit/tree-heads/verify", json=forged, headers=admin)
        assert bad.status_code == 422
        assert bad.json()["type"].endswith("/forged-tree-head")
        other_root = {**head, "root_hash": "00" * 32}
        bad = await audit.client.post("/audit/tree-heads/verify", json=other_root, headers=admin)
        assert bad.status_code == 422
        garbage = await audit.client.post(
            "/audit/tree-heads/verify", json={**head, "root_hash": "xyz"}, headers=admin
        )
        assert garbage.status_code == 400
        latest = (await audit.client.get("/audit/tree-head", headers=admin)).json()
        assert latest == head


async def test_tree_heads_are_signed_on_a_schedule(hygie_settings):
    spec = make_spec(AuditOptions(poll_seconds=0.05, tree_head_seconds=0.2))
    async with start_service(spec, hygie_settings) as audit:
        await _feed(audit, 3)

        async def signed():  # type: ignore[no-untyped-def]
            rows = await audit.fetch("SELECT tree_size FROM tree_head WHERE tree_size = 3")
            return rows or None

        await eventually(signed)


async def test_verify_names_changed_removed_and_reordered_records(hygie_settings, monkeypatch):
    monkeypatch.setattr(verify_module, "_CHUNK", 4)  # fast path on intact chunks, slow on others
    async with start_service(SPEC, hygie_settings) as audit:
        await _feed(audit, 12)
        await audit.client.post("/audit/tree-heads", headers=audit.auth("admin"))
        report = await _verify(audit)
        assert report.ok
        assert report.records_checked == 12
        assert report.tree_heads_checked == 1
        conn = await superuser(audit)
        try:
            await conn.execute("SET session_replication_role = replica")  # triggers off
            await conn.execute(
                "UPDATE audit_entry SET body = convert_to(replace(convert_from(body, 'UTF8'),"
                " 'dr-house', 'nobody'), 'UTF8')"
                " WHERE seq = 3"
            )
            await conn.execute("DELETE FROM audit_entry WHERE seq = 5")
            await conn.execute(
                "UPDATE audit_entry SET body = CASE seq WHEN 7 THEN"
                " (SELECT body FROM audit_entry WHERE seq = 8) ELSE"
                " (SELECT body FROM audit_entry WHERE seq = 7) END WHERE seq IN (7, 8)"
            )
        finally:
            await conn.close()
        report = await _verify(audit)
        text = "\n".join(report.problems)
        assert "record 3 was changed" in text
        assert "record 5 was removed" in text
        assert "record 7 carries another position" in text
        assert "record 8 carries another position" in text
        assert "signed tree head of size 12" in text
        resp = await audit.client.post("/audit/verify", headers=audit.auth("admin"))
        assert resp.json()["ok"] is False


async def test_a_consistent_rewrite_is_caught_by_the_signed_head(hygie_settings, monkeypatch):
    monkeypatch.setattr(verify_module, "_CHUNK", 2)
    async with start_service(SPEC, hygie_settings) as audit:
        await _feed(audit, 4)
        await audit.client.post("/audit/tree-heads", headers=audit.auth("admin"))
        conn = await superuser(audit)
        try:  # rewrite a record AND its leaf hash: only the signed root can tell
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                "UPDATE audit_entry SET body = convert_to(replace(convert_from(body, 'UTF8'),"
                " 'dr-house', 'nobody'), 'UTF8')"
                " WHERE seq = 2"
            )
            await conn.execute(
                "UPDATE merkle_node SET hash = sha256('\\x00'::bytea || (SELECT body FROM"
                " audit_entry WHERE seq = 2)) WHERE level = 0 AND idx = 2"
            )
        finally:
            await conn.close()
        report = await _verify(audit)
        assert report.problems, "the rewrite went unnoticed"
        for problem in report.problems:  # one per signed head of that size
            assert problem.startswith("signed tree head of size 4 at ")
            assert "records between leaf 0 and 3 were changed" in problem


async def test_the_writer_cannot_update_or_delete_and_the_trigger_stops_everyone(
    hygie_settings,
):
    async with start_service(SPEC, hygie_settings) as audit:
        await _feed(audit, 2)
        await audit.client.post("/audit/tree-heads", headers=audit.auth("admin"))
        assert audit.runtime.app.state.audit_worker.writer_role
        for sql in ("UPDATE audit_entry SET outcome = '8'", "DELETE FROM merkle_node"):
            with pytest.raises(DBAPIError, match="permission denied"):
                await audit.fetch(sql)
        conn = await superuser(audit)
        try:
            for sql in (
                "UPDATE audit_entry SET outcome = '8'",
                "DELETE FROM audit_entry",
                "TRUNCATE merkle_node",
                "UPDATE tree_head SET tree_size = 0",
            ):
                with pytest.raises(Exception, match="append-only"):
                    await conn.execute(sql)
        finally:
            await conn.close()


async def test_retention_prunes_records_keeps_hashes_and_logs_itself(hygie_settings):
    async with start_service(SPEC, hygie_settings) as audit:
        await _feed(audit, 6)
        await audit.client.post("/audit/tree-heads", headers=audit.auth("admin"))
        conn = await superuser(audit)
        try:  # make the first four records a year old
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                "UPDATE audit_entry SET stored_at = now() - interval '400 days' WHERE seq < 4"
            )
        finally:
            await conn.close()
        resp = await audit.client.post("/audit/retention/purge", headers=audit.auth("admin"))
        assert resp.json()["deleted"] == 4
        assert resp.json()["below_seq"] == 4
        rows = await entries(audit, 3)  # 2 kept + the purge's own record
        assert [r["seq"] for r in rows] == [4, 5, 6]
        assert rows[-1]["subtypes"] == ["retention-purge"]
        report = await _verify(audit)
        assert report.ok, report.problems
        assert report.pruned_below == 4
        assert report.records_checked == 3
        proof = await audit.client.get(
            "/audit/proof/inclusion", params={"leaf": 0}, headers=audit.auth("admin")
        )
        assert proof.status_code == 200
        assert proof.json()["entry_pruned"] is True


def test_retention_under_six_months_is_refused():
    with pytest.raises(ConfigError, match="legal minimum"):
        AuditOptions(retention_days=90)
