"""The full verification's readers of PostgreSQL binary COPY streams: rows split across
chunks anywhere, records checked against their leaves as they arrive."""

from __future__ import annotations

import asyncio
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from hygie_audit.domain.merkle import leaf_hash
from hygie_audit.service.verify import _BodyParser, _LeafParser


def _stream(rows: list[tuple[int, bytes]]) -> bytes:
    """A binary COPY of ``(bigint, bytea)`` rows as PostgreSQL writes it."""
    out = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    for number, data in rows:
        out += struct.pack(">hiqi", 2, 8, number, len(data)) + data
    return out + b"\xff\xff"


def _feed(parser, stream: bytes, cuts: list[int]) -> None:  # type: ignore[no-untyped-def]
    async def run() -> None:
        last = 0
        for cut in [*sorted(set(cuts)), len(stream)]:
            if cut > last:
                await parser.feed(stream[last:cut])
                last = cut

    asyncio.run(run())


def _records(start: int, n: int) -> list[bytes]:
    return [b'{"resource":{"n":%d},"seq":%d}' % (i * 7, start + i) for i in range(n)]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), start=st.integers(0, 1000), cuts=st.lists(st.integers(0, 4000)))
def test_intact_rows_are_recognised_however_the_stream_is_cut(n, start, cuts):
    bodies = _records(start, n)
    leaves = _LeafParser(start)
    stream = _stream([(start + i, leaf_hash(b)) for i, b in enumerate(bodies)])
    _feed(leaves, stream, [c % (len(stream) + 1) for c in cuts])
    assert leaves.intact
    assert leaves.hashes == [leaf_hash(b) for b in bodies]
    records = _BodyParser(start, leaves.hashes)
    stream = _stream([(start + i, b) for i, b in enumerate(bodies)])
    _feed(records, stream, [c % (len(stream) + 1) for c in cuts])
    assert records.intact
    assert records.count == n


def test_a_changed_moved_or_missing_record_or_leaf_is_not_intact():
    bodies = _records(10, 5)
    hashes = [leaf_hash(b) for b in bodies]

    def check(rows: list[tuple[int, bytes]]) -> bool:
        parser = _BodyParser(10, hashes)
        _feed(parser, _stream(rows), [7, 50, 51])
        return parser.intact and parser.count == len(hashes)

    good = [(10 + i, b) for i, b in enumerate(bodies)]
    assert check(good)
    assert not check([*good[:2], (12, bodies[2].replace(b"14", b"15")), *good[3:]])
    assert not check([*good[:2], (12, bodies[3]), (13, bodies[2]), *good[4:]])
    assert not check([*good[:2], *good[3:]])
    leaves = _LeafParser(10)
    _feed(leaves, _stream([(10, hashes[0]), (12, hashes[2])]), [])
    assert not leaves.intact
