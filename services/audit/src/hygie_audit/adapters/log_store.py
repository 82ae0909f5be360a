"""Reading and appending the Merkle log in PostgreSQL (SQLAlchemy Core on a connection)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.entries import ENTRY_COLUMNS, NewRecord, entry_rows
from ..domain.merkle import frontier_keys, new_nodes
from .tables import audit_pending, merkle_node

__all__ = [
    "SEQUENCER_LOCK",
    "append_pending",
    "append_records",
    "begin_append",
    "fetch_nodes",
    "lock_log",
    "tree_size",
    "write_entries",
]

#: One appender at a time across replicas (transaction-scoped advisory lock).
SEQUENCER_LOCK = zlib.crc32(b"hygie-audit-sequencer")


async def lock_log(conn: AsyncConnection, *, wait: bool = True) -> bool:
    """Take the appender lock for this transaction; False when ``wait`` is off and it is held."""
    fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    got = (await conn.execute(sa.text(f"SELECT {fn}(:k)"), {"k": SEQUENCER_LOCK})).scalar()
    return wait or bool(got)


async def tree_size(conn: AsyncConnection) -> int:
    """Leaves in the tree (committed)."""
    q = sa.select(sa.func.coalesce(sa.func.max(merkle_node.c.idx) + 1, 0)).where(
        merkle_node.c.level == 0
    )
    return int((await conn.execute(q)).scalar_one())


async def fetch_nodes(
    conn: AsyncConnection, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Stored node hashes by (level, index), in one round trip."""
    keys = list(keys)
    if not keys:
        return {}
    rows = await conn.execute(
        sa.text(
            "SELECT n.level, n.idx, n.hash FROM merkle_node n"
            " JOIN unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])) AS k(level, idx)"
            " ON n.level = k.level AND n.idx = k.idx"
        ),
        {"levels": [k[0] for k in keys], "idxs": [k[1] for k in keys]},
    )
    found = {(r.level, r.idx): bytes(r.hash) for r in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        raise LookupError(f"merkle nodes missing from the store: {missing[:5]}")
    return found


async def begin_append(conn: AsyncConnection) -> tuple[int, dict[tuple[int, int], bytes]]:
    """Take the appender lock (held until the transaction ends); return the tree size and
    its right edge (frontier nodes), in two round trips."""
    await lock_log(conn)
    size = await tree_size(conn)
    return size, await fetch_nodes(conn, frontier_keys(size))


async def write_entries(
    conn: AsyncConnection,
    size: int,
    frontier: dict[tuple[int, int], bytes],
    rows: list[tuple[Any, ...]],
    leaves: list[bytes],
) -> None:
    """Write records at positions ``size`` on (``entry_rows``) and every node they
    complete, by binary COPY, after ``begin_append`` in the same transaction."""
    if not rows:
        return
    driver = await _driver(conn)
    await driver.copy_records_to_table("audit_entry", records=rows, columns=ENTRY_COLUMNS)
    await driver.copy_records_to_table(
        "merkle_node", records=new_nodes(size, frontier, leaves), columns=_NODE_COLUMNS
    )


async def append_records(conn: AsyncConnection, records: Sequence[NewRecord]) -> int:
    """Give ``records`` the next log positions and extend the tree, in the caller's
    transaction; returns the position of the first record."""
    size, frontier = await begin_append(conn)
    rows, leaves = entry_rows(size, records)
    await write_entries(conn, size, frontier, rows, leaves)
    return size


_NODE_COLUMNS = ("level", "idx", "hash")


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's (same session, same transaction)."""
    return (await conn.get_raw_connection()).driver_connection


async def append_pending(conn: AsyncConnection, *, limit: int) -> int:
    """Append records left in ``audit_pending`` (staged there by earlier versions of the
    service, which appended in a second step); returns how many were appended."""
    pending = (
        await conn.execute(sa.select(audit_pending).order_by(audit_pending.c.id).limit(limit))
    ).all()
    if not pending:
        return 0
    await append_records(
        conn,
        [
            NewRecord(
                event_id=row.event_id,
                resource=orjson.loads(row.resource),
                source_event_type=row.source_event_type,
                subject=row.subject,
                trace_id=row.trace_id,
            )
            for row in pending
        ],
    )
    await conn.execute(
        audit_pending.delete().where(audit_pending.c.id.in_([r.id for r in pending]))
    )
    return len(pending)
