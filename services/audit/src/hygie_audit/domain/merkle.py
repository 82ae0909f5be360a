"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashes, proofs and their verification.

Pure functions, no I/O. A tree of ``n`` leaves is read through ``node(level, index)``: the
hash of the complete, aligned subtree of ``2**level`` leaves starting at leaf
``index * 2**level`` (level 0 = leaf hashes). RFC 9162 §2.1.1 only ever splits a range at
the largest power of two below its size, so every complete range it meets is aligned and
proofs need only O(log n) stored nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "ProofError",
    "RootStream",
    "consistency_path",
    "frontier_keys",
    "inclusion_path",
    "leaf_hash",
    "mth",
    "needed_nodes",
    "new_nodes",
    "node_hash",
    "range_hash",
    "root_from_leaves",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

NodeGetter = Callable[[int, int], bytes]
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof request outside the tree (e.g. a leaf beyond the tree size)."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: Sequence[bytes]) -> bytes:
    """Reference MTH over leaf *hashes* (RFC 9162 §2.1.1), for tests and small trees."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def range_hash(node: NodeGetter, start: int, end: int) -> bytes:
    """MTH(D[start:end]) from stored nodes; ``start`` aligned as RFC 9162 splits make it."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return node(level, start >> level)
    k = _split(n)
    return node_hash(range_hash(node, start, start + k), range_hash(node, start + k, end))


def inclusion_path(node: NodeGetter, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    return _path(node, index, 0, size)


def _path(node: NodeGetter, m: int, start: int, n: int) -> list[bytes]:
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(node, m, start, k), range_hash(node, start + k, start + n)]
    return [*_path(node, m - k, start + k, n - k), range_hash(node, start, start + k)]


def consistency_path(node: NodeGetter, first: int, second: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) for 0 < m <= n."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    return _subproof(node, first, 0, second, True)


def _subproof(node: NodeGetter, m: int, start: int, n: int, complete: bool) -> list[bytes]:
    if m == n:
        return [] if complete else [range_hash(node, start, start + n)]
    k = _split(n)
    if m <= k:
        return [*_subproof(node, m, start, k, complete), range_hash(node, start + k, start + n)]
    return [*_subproof(node, m - k, start + k, n - k, False), range_hash(node, start, start + k)]


def needed_nodes(proof: Callable[[NodeGetter], object]) -> set[tuple[int, int]]:
    """The stored nodes a proof computation reads (its shape does not depend on hashes)."""
    keys: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        keys.add((level, index))
        return b"\x00" * 32

    proof(record)
    return keys


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` under ``root``?"""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``second`` leaves an append-only extension?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def frontier_keys(size: int) -> list[tuple[int, int]]:
    """The complete subtrees of a tree of ``size`` leaves that new leaves will extend:
    one per set bit of ``size`` (its right edge)."""
    return [(lv, (size >> lv) - 1) for lv in range(size.bit_length()) if (size >> lv) & 1]


def new_nodes(
    size: int, frontier: dict[tuple[int, int], bytes], leaves: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """Every node (level, index, hash) completed by appending ``leaves`` (leaf hashes) to a
    tree of ``size`` leaves whose right-edge nodes are ``frontier`` (see frontier_keys).
    Level by level: the new nodes of a level are the pairs of the level below, whose
    first left child may be a frontier node."""
    out = [(0, idx, h) for idx, h in enumerate(leaves, size)]
    end = size + len(leaves)
    sha = hashlib.sha256
    row, start = list(leaves), size  # complete nodes of the level below, from index start
    level = 0
    while True:
        level += 1
        first, last = size >> level, (end >> level) - 1
        if last < first:  # nothing completed here, so nothing above either
            return out
        if 2 * first < start:  # the left child of the first new node was complete before
            row.insert(0, frontier[(level - 1, start - 1)])
            start -= 1
        base = 2 * first - start
        row = [
            sha(b"\x01" + row[i] + row[i + 1]).digest()
            for i in range(base, base + 2 * (last - first + 1), 2)
        ]
        out.extend((level, idx, h) for idx, h in enumerate(row, first))
        start = first


def subtree_root(leaves: list[bytes]) -> bytes:
    """MTH of a power-of-two number of leaf hashes, level by level (fast path of verify)."""
    sha = hashlib.sha256
    while len(leaves) > 1:
        leaves = [
            sha(b"\x01" + a + b).digest() for a, b in zip(leaves[0::2], leaves[1::2], strict=True)
        ]
    return leaves[0]


def root_from_leaves(leaves: Iterable[bytes]) -> bytes:
    """MTH of a stream of leaf hashes in O(log n) memory."""
    stream = RootStream()
    for h in leaves:
        stream.push(h)
    return stream.root()


class RootStream:
    """Streams leaf hashes, keeping the compact range (one subtree per set bit of the size):
    ``root()`` is the MTH of what was pushed so far."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (leaf count, hash), decreasing sizes

    def push(self, leaf: bytes, count: int = 1) -> None:
        """Append a leaf hash, or the hash of an aligned complete subtree of ``count``
        leaves (a power of two; the size so far a multiple of it)."""
        h, self.size = leaf, self.size + count
        while self._stack and self._stack[-1][0] == count:
            left = self._stack.pop()[1]
            h = node_hash(left, h)
            count *= 2
        self._stack.append((count, h))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h
