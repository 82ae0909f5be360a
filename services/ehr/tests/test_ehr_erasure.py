"""Erasing an EHR (admin API): its whole clinical content leaves the store in one
transaction with ``hygie.ehr.ehr.erased.v1``; a tombstone of the id stays."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from ehr_support import COMPOSITION, CONFORMANCE, Client, load_json

BASE = "/openehr/v1/ehr"
ADMIN = "/openehr/v1/admin/ehr"
MINIMAL = CONFORMANCE / "valid_templates" / "minimal"
FOLDER = CONFORMANCE / "directory" / "subfolders_in_directory_with_details_items.json"

#: every table holding rows of an EHR, and how a row names it
TABLES = {
    "ehr": "ehr_id",
    "contribution": "ehr_id",
    "versioned_object": "ehr_id",
    "object_version": "ehr_id",
    "entry": "ehr_id",
    "folder_node": "ehr_id",
    "folder_item": "ehr_id",
    "ehr_link": "ehr_id",
}


async def _tables_with_ehr_rows(client: Client) -> set[str]:
    """Every table of the store with an ``ehr_id`` column (but the tombstone)."""
    rows = await client.svc.fetch(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'ehr_id' "
        "AND table_schema = current_schema() AND table_name <> 'ehr_erasure'"
    )
    return {r["table_name"] for r in rows}


async def _rows_of(client: Client, ehr_id: str) -> dict[str, int]:
    counts = {}
    for table, column in TABLES.items():
        rows = await client.svc.fetch(
            f"SELECT count(*) AS n FROM {table} WHERE {column} = CAST(:id AS uuid)", id=ehr_id
        )
        counts[table] = rows[0]["n"]
    return counts


async def _populated_ehr(client: Client, subject: str) -> str:
    """An EHR with two composition versions, a contribution and a directory."""
    ehr_id = await client.new_ehr(subject)
    first = await client.commit(ehr_id, load_json(COMPOSITION))
    assert first.status_code == 201, first.text
    uid = first.headers["ETag"].strip('"')
    second = await client.http.put(
        f"{BASE}/{ehr_id}/composition/{uid.split('::')[0]}",
        json=load_json(COMPOSITION),
        headers={**client.headers, "If-Match": uid},
    )
    assert second.status_code in (200, 204), second.text
    contribution = await client.http.post(
        f"{BASE}/{ehr_id}/contribution",
        json=load_json(MINIMAL / "minimal_admin.contribution.json"),
        headers=client.headers,
    )
    assert contribution.status_code == 201, contribution.text
    directory = await client.http.post(
        f"{BASE}/{ehr_id}/directory", json=load_json(FOLDER), headers=client.headers
    )
    assert directory.status_code == 201, directory.text
    return ehr_id


def _admin(client: Client, user: str = "dpo-1") -> dict[str, str]:
    return client.svc.auth("admin", user=user)


@pytest.fixture
async def ready(client: Client) -> Client:
    await client.upload()
    await client.upload(MINIMAL / "minimal_admin.opt")
    return client


async def test_an_admin_erases_an_ehr_and_everything_it_produced(ready: Client) -> None:
    client = ready
    # a table added later with EHR rows must be added to the erasure (and to TABLES)
    assert await _tables_with_ehr_rows(client) == set(TABLES)
    ehr_id = await _populated_ehr(client, "IPP-ERASE")
    other = await _populated_ehr(client, "IPP-KEEP")
    before = await _rows_of(client, ehr_id)
    assert all(before[t] > 0 for t in TABLES if t != "ehr_link"), before
    kept = await _rows_of(client, other)

    resp = await client.http.delete(
        f"{ADMIN}/{ehr_id}", params={"reason": "GDPR art. 17 request #881"}, headers=_admin(client)
    )
    assert resp.status_code == 204, resp.text

    assert await _rows_of(client, ehr_id) == dict.fromkeys(TABLES, 0)
    assert await _rows_of(client, other) == kept
    gone = await client.http.get(f"{BASE}/{ehr_id}", headers=client.headers)
    assert gone.status_code == 404
    assert "erased" in gone.json()["message"]
    composition = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    assert composition.status_code == 404

    [tombstone] = await client.svc.fetch(
        "SELECT requested_by, reason, removed FROM ehr_erasure WHERE ehr_id = CAST(:id AS uuid)",
        id=ehr_id,
    )
    assert tombstone["requested_by"] == "dpo-1"
    assert tombstone["reason"] == "GDPR art. 17 request #881"
    assert tombstone["removed"]["compositions"] == 2
    assert tombstone["removed"]["versions"] == before["object_version"]
    assert tombstone["removed"]["contributions"] == before["contribution"]

    [event] = await client.svc.fetch(
        "SELECT event_key, data FROM journal WHERE event_type = 'hygie.ehr.ehr.erased.v1'"
    )
    assert event["event_key"] == ehr_id
    data: dict[str, Any] = event["data"]
    assert data["ehr_id"] == ehr_id
    assert data["subject"] == {"namespace": "ipp.site-a", "id": "IPP-ERASE"}
    assert data["reason"] == "GDPR art. 17 request #881"
    assert data["requested_by"] == "dpo-1"
    accesses = await client.svc.fetch(
        "SELECT data FROM journal WHERE event_type = 'hygie.access.record.accessed.v1' "
        "AND data->>'resource' = :r",
        r=f"EHR/{ehr_id}",
    )
    assert [a["data"]["action"] for a in accesses] == ["D"]
    assert accesses[0]["data"]["patient"] == "ipp.site-a|IPP-ERASE"


async def test_after_erasure_the_subject_may_have_a_new_ehr_but_the_id_is_not_reused(
    client: Client,
) -> None:
    ehr_id = await client.new_ehr("IPP-AGAIN")
    erased = await client.http.request(
        "DELETE", f"{ADMIN}/{ehr_id}", json={"reason": "test patient"}, headers=_admin(client)
    )
    assert erased.status_code == 204, erased.text
    again = await client.http.request(
        "DELETE", f"{ADMIN}/{ehr_id}", params={"reason": "twice"}, headers=_admin(client)
    )
    assert again.status_code == 404
    assert "erased" in again.json()["message"]
    fresh = await client.new_ehr("IPP-AGAIN")
    assert fresh != ehr_id
    reuse = await client.http.put(f"{BASE}/{ehr_id}", headers=client.headers)
    assert reuse.status_code == 409
    assert "erased" in reuse.json()["message"]
    events = await client.svc.fetch(
        "SELECT count(*) AS n FROM journal WHERE event_type = 'hygie.ehr.ehr.erased.v1'"
    )
    assert events[0]["n"] == 1


@pytest.mark.parametrize(
    ("roles", "status"), [(("clinician",), 403), (("integration",), 403), (("analyst",), 403)]
)
async def test_only_an_admin_may_erase(client: Client, roles: tuple[str, ...], status: int) -> None:
    ehr_id = await client.new_ehr()
    resp = await client.http.delete(
        f"{ADMIN}/{ehr_id}", params={"reason": "x"}, headers=client.svc.auth(*roles)
    )
    assert resp.status_code == status
    assert (await client.http.get(f"{BASE}/{ehr_id}", headers=client.headers)).status_code == 200
    unauthenticated = await client.http.delete(f"{ADMIN}/{ehr_id}", params={"reason": "x"})
    assert unauthenticated.status_code == 401


async def test_bad_erasure_requests_are_refused_and_erase_nothing(client: Client) -> None:
    ehr_id = await client.new_ehr("IPP-BAD")
    before = await _rows_of(client, ehr_id)
    admin = _admin(client)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({}, 400, "reason-required"),
        ({"params": {"reason": "   "}}, 400, "reason-required"),
        ({"params": {"reason": "x" * 2001}}, 400, "bad-request"),
        ({"json": ["not", "an", "object"]}, 400, "bad-request"),
        ({"json": {"reason": 42}}, 400, "bad-request"),
        ({"params": {"reason": "a"}, "json": {"reason": "b"}}, 400, "bad-request"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, ""),
    ]
    for options, status, slug in cases:
        headers = {**admin, **options.pop("headers", {})}
        resp = await client.http.request("DELETE", f"{ADMIN}/{ehr_id}", headers=headers, **options)
        assert resp.status_code == status, (options, resp.text)
        assert resp.json()["type"].endswith(slug), resp.json()
    not_uuid = await client.http.delete(f"{ADMIN}/nope", params={"reason": "r"}, headers=admin)
    assert not_uuid.status_code == 400
    unknown = await client.http.delete(
        f"{ADMIN}/7d44b88c-4199-4bad-97dc-d78268e01399", params={"reason": "r"}, headers=admin
    )
    assert unknown.status_code == 404
    assert await _rows_of(client, ehr_id) == before
    assert await client.svc.fetch("SELECT 1 FROM ehr_erasure") == []
    assert (
        await client.svc.fetch("SELECT 1 FROM journal WHERE event_type = 'hygie.ehr.ehr.erased.v1'")
        == []
    )


async def _blocked_on_a_lock(client: Client, *, timeout: float = 10.0) -> None:
    """Wait until another session of the service's database waits for a row lock."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        rows = await client.svc.fetch(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        if rows:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the concurrent write never waited for the erasure's lock")


@pytest.mark.parametrize("write", ["composition", "contribution", "directory", "ehr_status"])
async def test_a_write_racing_the_erasure_of_its_ehr_gets_404_and_stores_nothing(
    ready: Client, write: str
) -> None:
    """The erasure holds the EHR row; a write already past its checks waits for it, then
    finds the EHR gone: 404, not a 500, and nothing of it stored."""
    from hygie_ehr.adapters.erasure import ErasureStore

    client = ready
    ehr_id = await client.new_ehr(f"IPP-RACE-{write}")
    status = await client.http.get(f"{BASE}/{ehr_id}/ehr_status", headers=client.headers)
    bodies = {
        "composition": ("POST", "composition", load_json(COMPOSITION), {}),
        "contribution": (
            "POST",
            "contribution",
            load_json(MINIMAL / "minimal_admin.contribution.json"),
            {},
        ),
        "directory": ("POST", "directory", load_json(FOLDER), {}),
        "ehr_status": ("PUT", "ehr_status", status.json(), {"If-Match": status.headers["ETag"]}),
    }
    method, path, body, extra = bodies[write]
    engine = client.svc.runtime.engine
    assert engine is not None
    async with engine.connect() as conn:
        await conn.begin()
        store = ErasureStore(conn)
        assert await store.lock(uuid.UUID(ehr_id))
        await store.erase(
            uuid.UUID(ehr_id),
            erased_at=datetime.now(UTC),
            requested_by="dpo-1",
            reason="race",
        )
        racing = asyncio.create_task(
            client.http.request(
                method,
                f"{BASE}/{ehr_id}/{path}",
                json=body,
                headers={**client.headers, **extra},
            )
        )
        await _blocked_on_a_lock(client)
        await conn.commit()
    resp = await racing
    assert resp.status_code == 404, resp.text
    assert "ehr" in resp.json()["type"]
    assert await _rows_of(client, ehr_id) == dict.fromkeys(TABLES, 0)
