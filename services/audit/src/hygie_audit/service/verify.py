"""``hygie audit verify``: recompute the whole log from its stored records and check every
signed tree head. Any changed, removed or re-ordered record is found and named."""

from __future__ import annotations

import asyncio
import struct
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
#: COPY takes no parameters: positions are formatted in (integers only).
_COPY_LEAVES = (
    "SELECT idx, hash FROM merkle_node WHERE level = 0 AND idx >= {0} AND idx < {1} ORDER BY idx"
)
_COPY_BODIES = "SELECT seq, body FROM audit_entry WHERE seq >= {0} AND seq < {1} ORDER BY seq"
_CHUNK = 1 << 14  # aligned complete subtrees: the fast path hashes them level by level
_READERS = 2


@dataclass
class _Chunk:
    """One aligned range of the log as read: its stored leaf hashes, and whether every
    record is present, in order, carries its own position and hashes to its leaf."""

    start: int
    end: int
    leaves: list[bytes]
    intact: bool


async def _read_chunk(driver: Any, start: int, end: int) -> _Chunk:
    """Stream the leaves then the records of ``[start, end)`` by binary COPY, hashing each
    record as its bytes arrive (no per-row Python objects but the leaf hashes)."""
    leaves = _LeafParser(start)
    await driver.copy_from_query(
        _COPY_LEAVES.format(int(start), int(end)), output=leaves.feed, format="binary"
    )
    bodies = _BodyParser(start, leaves.hashes)
    if leaves.intact and len(leaves.hashes) == end - start:
        await driver.copy_from_query(
            _COPY_BODIES.format(int(start), int(end)), output=bodies.feed, format="binary"
        )
    intact = leaves.intact and bodies.intact and bodies.count == end - start == len(leaves.hashes)
    return _Chunk(start, end, leaves.hashes, intact)


#: PostgreSQL binary COPY: signature, flags, header extension length; then per row a
#: field count and (length, bytes) per field; a field count of -1 ends the data.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_ROW = struct.Struct(">hiqi")  # 2 fields, bigint (length 8, value), bytea length


class _CopyParser:
    """Rows ``(bigint, bytea)`` of a binary COPY stream, fed in arbitrary chunks."""

    def __init__(self, start: int) -> None:
        self.expected = start  # the position the next row must have
        self.intact = True
        self._rest = b""
        self._header = True

    async def feed(self, chunk: bytes) -> None:
        data = self._rest + chunk if self._rest else chunk
        pos = 0
        if self._header:
            if len(data) < 19:
                self._rest = data
                return
            if not data.startswith(_SIGNATURE):
                raise ValueError("not a PostgreSQL binary COPY stream")
            pos = 19 + int.from_bytes(data[15:19], "big")
            self._header = False
        self._rest = data[self.rows(data, pos) :]

    def rows(self, data: bytes, pos: int) -> int:
        """Consume the complete rows of ``data`` from ``pos``; the position after them."""
        raise NotImplementedError


class _LeafParser(_CopyParser):
    def __init__(self, start: int) -> None:
        super().__init__(start)
        self.hashes: list[bytes] = []

    def rows(self, data: bytes, pos: int) -> int:
        unpack, size, hashes = _ROW.unpack_from, len(data), self.hashes
        expected, intact = self.expected, self.intact
        while size - pos >= 18:
            fields, width, idx, length = unpack(data, pos)
            if fields != 2 or width != 8 or length < 0:
                break  # the trailer (-1): done
            end = pos + 18 + length
            if end > size:
                break
            hashes.append(data[pos + 18 : end])
            intact = intact and idx == expected
            expected += 1
            pos = end
        self.expected, self.intact = expected, intact
        return pos


class _BodyParser(_CopyParser):
    def __init__(self, start: int, leaves: list[bytes]) -> None:
        super().__init__(start)
        self.leaves = leaves
        self.count = 0
        self._prefix = sha256(b"\x00")

    def rows(self, data: bytes, pos: int) -> int:
        unpack, size, view = _ROW.unpack_from, len(data), memoryview(data)
        leaves, prefix, ends = self.leaves, self._prefix, data.endswith
        expected, intact, count = self.expected, self.intact, self.count
        while size - pos >= 18:
            fields, width, seq, length = unpack(data, pos)
            if fields != 2 or width != 8 or length < 0:
                break
            end = pos + 18 + length
            if end > size:
                break
            if intact:
                h = prefix.copy()
                h.update(view[pos + 18 : end])
                intact = (
                    seq == expected
                    and count < len(leaves)
                    and h.digest() == leaves[count]
                    and ends(b',"seq":%d}' % seq, pos + 18, end)
                )
            expected += 1
            count += 1
            pos = end
        self.expected, self.intact, self.count = expected, intact, count
        return pos


async def _chunks(conn: AsyncConnection, size: int) -> AsyncIterator[_Chunk]:
    """The log in chunks, in order, read on ``_READERS`` connections of the engine at
    once: each hashes its records as they stream in while the others wait on the
    database."""
    starts = list(range(0, size, _CHUNK))
    ready: dict[int, asyncio.Future[_Chunk]] = {
        s: asyncio.get_running_loop().create_future() for s in starts
    }
    window = asyncio.Semaphore(2 * _READERS)  # chunks read ahead at most

    async def reader(mine: list[int]) -> None:
        async with conn.engine.connect() as own:
            driver = (await own.get_raw_connection()).driver_connection
            assert driver is not None
            for start in mine:
                await window.acquire()
                ready[start].set_result(await _read_chunk(driver, start, min(size, start + _CHUNK)))

    tasks = [asyncio.create_task(reader(starts[i::_READERS])) for i in range(_READERS)]
    try:
        for start in starts:
            done = asyncio.ensure_future(ready[start])
            await asyncio.wait([done, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:  # a reader that failed fails the verification
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            chunk = await done
            window.release()
            yield chunk
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
    async for chunk in _chunks(conn, size):
        start, end = chunk.start, chunk.end
        if chunk.intact:  # every leaf recomputed from its record and equal to the stored one
            report.records_checked += end - start
            expected = end
            if end - start == _CHUNK and not any(start < h.tree_size < end for h in pending):
                push(subtree_root(chunk.leaves), _CHUNK)
                check_heads()
                continue
            for leaf in chunk.leaves:
                push(leaf)
                if pending and pending[0].tree_size == stream.size:
                    check_heads()
            continue
        # slow path: read the chunk again and name every problem in it
        leaves = await driver.fetch(_LEAVES, start, end)
        bodies = dict(await driver.fetch(_BODIES, start, end))
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
