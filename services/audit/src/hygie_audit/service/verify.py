"""``hygie audit verify``: recompute the whole log from its stored records and check every
signed tree head. Any changed, removed or re-ordered record is found and named."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import sha256

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.tables import retention_purge
from ..domain.merkle import RootStream
from ..domain.tree_head import LogKey, SignedTreeHead
from .log import all_tree_heads

__all__ = ["VerifyReport", "verify_log"]

_STREAM = (
    "SELECT n.idx, n.hash, e.body FROM merkle_node n LEFT JOIN audit_entry e ON e.seq = n.idx"
    " WHERE n.level = 0 AND n.idx > $1 ORDER BY n.idx LIMIT $2"
)
_CHUNK = 20_000


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
    after = -1
    while True:  # keyset chunks straight from asyncpg: no per-row ORM work
        chunk = await driver.fetch(_STREAM, after, _CHUNK)
        if not chunk:
            break
        after = chunk[-1][0]
        for idx, stored, body in chunk:
            if idx != expected:
                report.problems.append(f"leaves {expected} to {idx - 1} are missing from the tree")
            expected = idx + 1
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
    report.tree_size = stream.size
    for head in pending:
        report.problems.append(
            f"signed tree head of size {head.tree_size} is beyond the log's "
            f"{stream.size} leaves: records at its end were removed"
        )
    return report
