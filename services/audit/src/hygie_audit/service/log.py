"""Use cases on the Merkle log: append pending records, sign tree heads, serve proofs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hygie_contracts.audit import TreeHeadSigned
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters.log_store import append_pending, fetch_nodes, lock_log, tree_size
from ..adapters.tables import tree_head
from ..domain.merkle import (
    ProofError,
    consistency_path,
    inclusion_path,
    needed_nodes,
    range_hash,
)
from ..domain.tree_head import LogKey, SignedTreeHead

__all__ = [
    "append_left_over",
    "consistency_proof",
    "inclusion_proof",
    "latest_tree_head",
    "root_at",
    "sign_tree_head",
]

Clock = Callable[[], float]


def _getter(nodes: dict[tuple[int, int], bytes]) -> Callable[[int, int], bytes]:
    return lambda level, index: nodes[(level, index)]


async def append_left_over(uow: UnitOfWorkFactory, *, limit: int) -> bool:
    """Append the records that earlier versions staged in ``audit_pending`` (they appended
    in a second step), ``limit`` at a time; False when another replica holds the lock."""
    while True:
        async with uow() as u:
            if not await lock_log(u.connection, wait=False):
                return False
            if await append_pending(u.connection, limit=limit) < limit:
                return True


async def root_at(conn: AsyncConnection, size: int) -> bytes:
    """MTH of the first ``size`` leaves, from O(log n) stored nodes."""
    nodes = await fetch_nodes(conn, needed_nodes(lambda g: range_hash(g, 0, size)))
    return range_hash(_getter(nodes), 0, size)


async def sign_tree_head(
    uow: UnitOfWorkFactory, key: LogKey, *, clock: Clock = time.time
) -> SignedTreeHead:
    """Sign the current tree head, store it and publish it on hygie.audit.v1 (journal)."""
    async with uow() as u:
        conn = u.connection
        await lock_log(conn)  # no append between reading the size and the root
        size = await tree_size(conn)
        root = await root_at(conn, size)
        last = (
            await conn.execute(
                sa.select(sa.func.max(tree_head.c.timestamp_ms)).where(
                    tree_head.c.log_id == key.log_id
                )
            )
        ).scalar()
        stamp = max(int(clock() * 1000), (last or 0) + 1)  # strictly increasing
        head = key.sign(size, root, stamp)
        await conn.execute(
            tree_head.insert().values(
                log_id=head.log_id,
                timestamp_ms=head.timestamp,
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                signature=head.signature,
            )
        )
        u.record(TreeHeadSigned(**head.json()))  # type: ignore[arg-type]
        return head


async def latest_tree_head(conn: AsyncConnection, log_id: str) -> SignedTreeHead | None:
    row = (
        await conn.execute(
            sa.select(tree_head)
            .where(tree_head.c.log_id == log_id)
            .order_by(tree_head.c.timestamp_ms.desc())
            .limit(1)
        )
    ).first()
    return _head(row) if row else None


def _head(row: Any) -> SignedTreeHead:
    return SignedTreeHead(
        row.log_id, row.tree_size, bytes(row.root_hash), row.timestamp_ms, bytes(row.signature)
    )


async def all_tree_heads(conn: AsyncConnection) -> list[SignedTreeHead]:
    rows = await conn.execute(sa.select(tree_head).order_by(tree_head.c.timestamp_ms))
    return [_head(r) for r in rows]


async def inclusion_proof(conn: AsyncConnection, leaf: int, size: int | None) -> dict[str, Any]:
    """RFC 9162 inclusion proof of leaf ``leaf`` in the tree of ``size`` leaves (two round
    trips: the tree size with the record's presence, then every node the proof reads)."""
    current, present = (await conn.execute(_SIZE_AND_ENTRY, {"leaf": leaf})).one()
    size = current if size is None else size
    if size > current:
        raise ProofError(f"tree_size {size} is beyond the tree size {current}")
    if not 0 <= leaf < size:
        raise ProofError(f"leaf {leaf} is not in a tree of {size} leaves")
    keys = needed_nodes(lambda g: (inclusion_path(g, leaf, size), range_hash(g, 0, size)))
    nodes = await fetch_nodes(conn, keys | {(0, leaf)})
    path = inclusion_path(_getter(nodes), leaf, size)
    return {
        "leaf_index": leaf,
        "tree_size": size,
        "leaf_hash": nodes[(0, leaf)].hex(),
        "inclusion_path": [h.hex() for h in path],
        "root_hash": range_hash(_getter(nodes), 0, size).hex(),
        "entry_pruned": not present,
    }


_SIZE_AND_ENTRY = sa.text(
    "SELECT (SELECT coalesce(max(idx) + 1, 0) FROM merkle_node WHERE level = 0),"
    " EXISTS (SELECT 1 FROM audit_entry WHERE seq = :leaf)"
)


async def consistency_proof(conn: AsyncConnection, first: int, second: int) -> dict[str, Any]:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` leaves."""
    current = await tree_size(conn)
    if second > current:
        raise ProofError(f"second {second} is beyond the tree size {current}")
    if not 0 < first <= second:
        raise ProofError(f"first must be between 1 and second ({second}), got {first}")
    keys = needed_nodes(
        lambda g: (
            consistency_path(g, first, second),
            range_hash(g, 0, first),
            range_hash(g, 0, second),
        )
    )
    nodes = await fetch_nodes(conn, keys)
    get = _getter(nodes)
    return {
        "first": first,
        "second": second,
        "first_root_hash": range_hash(get, 0, first).hex(),
        "second_root_hash": range_hash(get, 0, second).hex(),
        "consistency_path": [h.hex() for h in consistency_path(get, first, second)],
    }
