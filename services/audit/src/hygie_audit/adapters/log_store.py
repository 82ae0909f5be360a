"""Reading and appending the Merkle log in PostgreSQL (SQLAlchemy Core on a connection)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.merkle import frontier_keys, leaf_hash, new_nodes
from ..domain.records import canonical_entry, index_of
from ..domain.summary import summary_of
from .tables import audit_entry, audit_pending, merkle_node

__all__ = ["SEQUENCER_LOCK", "append_pending", "fetch_nodes", "lock_log", "tree_size"]

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


async def append_pending(conn: AsyncConnection, *, limit: int) -> int:
    """Give the oldest pending records the next log positions and extend the tree.
    The caller holds the appender lock; returns the number of records appended."""
    pending = (
        await conn.execute(sa.select(audit_pending).order_by(audit_pending.c.id).limit(limit))
    ).all()
    if not pending:
        return 0
    size = await tree_size(conn)
    frontier = await fetch_nodes(conn, frontier_keys(size))
    entries: list[dict[str, Any]] = []
    leaves: list[bytes] = []
    for offset, row in enumerate(pending):
        seq = size + offset
        resource = {**orjson.loads(row.resource), "id": str(row.event_id)}
        body = canonical_entry(seq, resource)
        leaves.append(leaf_hash(body))
        entries.append(
            {
                "seq": seq,
                "event_id": row.event_id,
                **index_of(resource).row(),
                "source_event_type": row.source_event_type,
                "subject": row.subject,
                "trace_id": row.trace_id,
                "body": body,
                "report_line": orjson.dumps(summary_of(resource)),
            }
        )
    await conn.execute(audit_entry.insert(), entries)
    await conn.execute(
        merkle_node.insert(),
        [{"level": lv, "idx": i, "hash": h} for lv, i, h in new_nodes(size, frontier, leaves)],
    )
    await conn.execute(
        audit_pending.delete().where(audit_pending.c.id.in_([r.id for r in pending]))
    )
    return len(pending)
