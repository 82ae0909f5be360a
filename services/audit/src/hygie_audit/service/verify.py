"""``hygie audit verify``: recompute the whole log from its stored records and check every
signed tree head. Any changed, removed or re-ordered record is found and named."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.tables import retention_purge
from ..domain.merkle import RootStream, subtree_root
from ..domain.tree_head import LogKey, SignedTreeHead
from .log import all_tree_heads

__all__ = ["VerifyReport", "verify_log"]

_SIZE = "SELECT coalesce(max(idx) + 1, 0) FROM merkle_node WHERE level = 0"
_LEAVES = (
    "SELECT idx, hash FROM merkle_node WHERE level = 0 AND idx >= $1 AND idx < $2 ORDER BY idx"
)
_BODIES = "SELECT seq, body FROM audit_entry WHERE seq >= $1 AND seq < $2"
_CHUNK = 1 << 14  # aligned complete subtrees: the fast path hashes them level by level
_READERS = 2


async def _chunks(
    conn: AsyncConnection, size: int
) -> AsyncIterator[tuple[int, int, list[Any], dict[int, bytes]]]:
    """The log in chunks, in order, read ahead on ``_READERS`` connections of the engine
    while the caller hashes (the scan is bound by reading the records)."""
    starts = list(range(0, size, _CHUNK))
    ready: dict[int, asyncio.Future[tuple[list[Any], dict[int, bytes]]]] = {
        s: asyncio.get_running_loop().create_future() for s in starts
    }
    window = asyncio.Semaphore(2 * _READERS)  # chunks read ahead at most

    async def reader(mine: list[int]) -> None:
        async with conn.engine.connect() as own:
            driver = (await own.get_raw_connection()).driver_connection
            assert driver is not None
            for start in mine:
                await window.acquire()
                end = min(size, start + _CHUNK)
                leaves = await driver.fetch(_LEAVES, start, end)
                ready[start].set_result((leaves, dict(await driver.fetch(_BODIES, start, end))))

    tasks = [asyncio.create_task(reader(starts[i::_READERS])) for i in range(_READERS)]
    try:
        for start in starts:
            done = asyncio.ensure_future(ready[start])
            await asyncio.wait([done, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:  # a reader that failed fails the verification
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            leaves, bodies = await done
            window.release()
            yield start, min(size, start + _CHUNK), leaves, bodies
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _intact(start: int, leaves: list[Any], bodies: dict[int, bytes]) -> bool:
    """Every leaf of the chunk present, every record present at its position, and every
    recomputed leaf hash equal to the stored one (else the slow path names the problem)."""
    if len(leaves) != _CHUNK or len(bodies) != _CHUNK or leaves[0][0] != start:
        return False
    sha = sha256
    for i, (idx, stored) in enumerate(leaves):
        body = bodies.get(idx)
        if body is None or sha(b"\x00" + body).digest() != stored:
            return False
        if not body.endswith(b',"seq":%d}' % (start + i)):
            return False
    return True


@dataclass
class VerifyReport:
    """What verification found; ``ok`` when nothing."""

    tree_size: int = 0
    records_checked: int = 0
    pruned_below: int = 0
    tree_heads_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "records_checked": self.records_checked,
            "pruned_below": self.pruned_below,
            "tree_heads_checked": self.tree_heads_checked,
            "problems": self.problems,
        }


async def verify_log(
    conn: AsyncConnection, key: LogKey, *, extra_heads: Iterable[SignedTreeHead] = ()
) -> VerifyReport:
    """Recompute every leaf from its record and every signed root from the leaves.

    ``extra_heads`` are tree heads kept outside the database (read from hygie.audit.v1 or
    a copy held by a third party): a head removed from the database is still checked."""
    report = VerifyReport()
    pruned = (await conn.execute(sa.select(sa.func.max(retention_purge.c.below_seq)))).scalar() or 0
    report.pruned_below = pruned
    heads = {(h.log_id, h.timestamp): h for h in [*await all_tree_heads(conn), *extra_heads]}
    pending = sorted(heads.values(), key=lambda h: (h.tree_size, h.timestamp))
    for head in pending:
        report.tree_heads_checked += 1
        if not key.verifies(head):
            report.problems.append(
                f"tree head of size {head.tree_size} at {head.timestamp} has an invalid "
                "signature (forged or signed by another key)"
            )
    pending = [h for h in pending if key.verifies(h)]
    stream = RootStream()
    push = stream.push
    last_good = 0
    expected = 0

    def check_heads() -> None:
        nonlocal last_good
        while pending and pending[0].tree_size == stream.size:
            head = pending.pop(0)
            if stream.root() == head.root_hash:
                last_good = head.tree_size
            else:
                report.problems.append(
                    f"signed tree head of size {head.tree_size} at {head.timestamp} does not "
                    f"match the log: records between leaf {last_good} and "
                    f"{head.tree_size - 1} were changed, removed or re-ordered"
                )

    check_heads()
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    size = await driver.fetchval(_SIZE)
    async for start, end, leaves, bodies in _chunks(conn, size):
        whole = end - start == _CHUNK and not any(start < h.tree_size < end for h in pending)
        if whole and _intact(start, leaves, bodies):
            report.records_checked += len(bodies)
            push(subtree_root([h for _, h in leaves]), _CHUNK)
            check_heads()
            expected = end
            continue
        for idx, stored in leaves:  # slow path: name every problem of the chunk
            if idx != expected:
                report.problems.append(f"leaves {expected} to {idx - 1} are missing from the tree")
            expected = idx + 1
            body = bodies.get(idx)
            if body is None:
                if idx >= pruned:
                    report.problems.append(
                        f"record {idx} was removed (no retention purge covers it)"
                    )
                leaf = stored
            else:
                report.records_checked += 1
                leaf = sha256(b"\x00" + body).digest()
                if not body.endswith(b',"seq":%d}' % idx):
                    report.problems.append(f"record {idx} carries another position (re-ordered)")
                elif leaf != stored:
                    report.problems.append(f"record {idx} was changed (its leaf hash differs)")
            push(leaf)
            if pending and pending[0].tree_size == stream.size:
                check_heads()
        expected = end
    report.tree_size = stream.size
    for head in pending:
        report.problems.append(
            f"signed tree head of size {head.tree_size} is beyond the log's "
            f"{stream.size} leaves: records at its end were removed"
        )
    return report
