"""``python -m hygie_audit verify`` and ``hygie audit verify``: exit 0 on an intact
log, 1 naming the tampered record, with tree heads kept outside the database checked too."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from audit_support import SPEC, audit_event, entries, superuser

from hygie_platform.testing import start_service


async def _verify(settings, *args: str, module: str = "hygie_audit") -> tuple[int, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYGIE_")}
    env.update(
        HYGIE_DATABASE_URL=settings.database_url,
        HYGIE_DATABASE_PREFIX=settings.database_prefix,
        HYGIE_HOME=str(settings.home),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hygie_audit",
        "verify",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_verify_command_exit_status_and_findings(hygie_settings, tmp_path):
    async with start_service(SPEC, hygie_settings) as audit:
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"resource": audit_event()} for _ in range(3)],
        }
        await audit.client.post("/fhir/AuditEvent", json=bundle, headers=audit.auth("integration"))
        await entries(audit, 3)
        head = (await audit.client.post("/audit/tree-heads", headers=audit.auth("admin"))).json()
        heads = tmp_path / "heads.json"
        heads.write_text(json.dumps([head]))
        code, out = await _verify(hygie_settings, "--tree-heads", str(heads))
        assert code == 0, out
        assert "OK: 3 leaves" in out
        conn = await superuser(audit)
        try:  # remove the stored tree head and rewrite a record: the outside copy tells
            await conn.execute("SET session_replication_role = replica")
            await conn.execute("DELETE FROM tree_head")
            await conn.execute(
                "UPDATE audit_entry SET outcome = '8', body = body || ' '::bytea WHERE seq = 1"
            )
        finally:
            await conn.close()
        code, out = await _verify(  # the same through ``hygie audit verify``
            hygie_settings, "--tree-heads", str(heads), module="hygie_platform.cli"
        )
        assert code == 1, out
        assert "record 1" in out
        assert "signed tree head of size 3" in out
