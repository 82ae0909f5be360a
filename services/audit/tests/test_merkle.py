"""RFC 9162 Merkle tree: proofs verify for any size; any tampering is detected."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hygie_audit.domain.merkle import (
    EMPTY_ROOT,
    ProofError,
    RootStream,
    consistency_path,
    frontier_keys,
    inclusion_path,
    leaf_hash,
    mth,
    needed_nodes,
    new_nodes,
    node_hash,
    range_hash,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def _store(leaves: list[bytes], *, batch: int = 7) -> dict[tuple[int, int], bytes]:
    """Nodes as the log stores them, built by appending in batches."""
    nodes: dict[tuple[int, int], bytes] = {}
    size = 0
    while size < len(leaves):
        chunk = leaves[size : size + batch]
        frontier = {k: nodes[k] for k in frontier_keys(size)}
        for level, idx, h in new_nodes(size, frontier, chunk):
            nodes[(level, idx)] = h
        size += len(chunk)
    return nodes


def test_hashes_follow_rfc_9162_domain_separation():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert mth([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    a, b, c = _leaves(3)
    assert mth([a, b, c]) == node_hash(node_hash(a, b), c)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), batch=st.integers(1, 40))
def test_stored_nodes_give_the_reference_root_for_every_size(n, batch):
    leaves = _leaves(n)
    nodes = _store(leaves, batch=batch)
    stream = RootStream()
    for size in range(1, n + 1):
        stream.push(leaves[size - 1])
        root = range_hash(lambda lv, i: nodes[(lv, i)], 0, size)
        assert root == mth(leaves[:size]) == stream.root()


@settings(max_examples=80, deadline=None)
@given(data=st.data(), n=st.integers(1, 200))
def test_inclusion_proofs_verify_and_tampering_fails(data, n):
    leaves = _leaves(n)
    nodes = _store(leaves)
    get = lambda lv, i: nodes[(lv, i)]  # noqa: E731
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    root = mth(leaves[:size])
    path = inclusion_path(get, index, size)
    assert verify_inclusion(leaves[index], index, size, path, root)
    forged = leaf_hash(b"forged")
    assert not verify_inclusion(forged, index, size, path, root)
    if size > 1:
        other = (index + 1) % size
        assert not verify_inclusion(leaves[index], other, size, path, root)
    if path:
        broken = [*path]
        broken[0] = leaf_hash(b"x")
        assert not verify_inclusion(leaves[index], index, size, broken, root)
    assert len(needed_nodes(lambda g: inclusion_path(g, index, size))) <= 2 * size.bit_length()


@settings(max_examples=80, deadline=None)
@given(data=st.data(), n=st.integers(1, 200))
def test_consistency_proofs_verify_and_rewritten_history_fails(data, n):
    leaves = _leaves(n)
    nodes = _store(leaves)
    get = lambda lv, i: nodes[(lv, i)]  # noqa: E731
    second = data.draw(st.integers(1, n))
    first = data.draw(st.integers(1, second))
    path = consistency_path(get, first, second)
    r1, r2 = mth(leaves[:first]), mth(leaves[:second])
    assert verify_consistency(first, second, r1, r2, path)
    changed = [*leaves[:second]]
    changed[data.draw(st.integers(0, first - 1))] = leaf_hash(b"changed")
    assert not verify_consistency(first, second, mth(changed[:first]), r2, path)
    if first < second:
        assert not verify_consistency(first, second, r1, mth(changed), path)


def test_proofs_outside_the_tree_are_refused():
    nodes = _store(_leaves(4))
    get = lambda lv, i: nodes[(lv, i)]  # noqa: E731
    with pytest.raises(ProofError):
        inclusion_path(get, 4, 4)
    with pytest.raises(ProofError):
        consistency_path(get, 0, 3)
    with pytest.raises(ProofError):
        consistency_path(get, 4, 3)


@settings(max_examples=40, deadline=None)
@given(chunks=st.integers(0, 5), tail=st.integers(0, 20))
def test_root_stream_accepts_aligned_subtrees(chunks, tail):
    leaves = _leaves(chunks * 8 + tail)
    stream = RootStream()
    for c in range(chunks):
        stream.push(subtree_root(leaves[c * 8 : c * 8 + 8]), 8)
    for h in leaves[chunks * 8 :]:
        stream.push(h)
    assert stream.size == len(leaves)
    assert stream.root() == mth(leaves)
