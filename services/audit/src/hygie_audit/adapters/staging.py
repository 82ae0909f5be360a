"""Rows staged in a transaction and written with one multi-row INSERT when it commits.

The consumer calls a handler once per event inside one unit of work per fetched batch; one
INSERT round trip per event would cap the log at the database's round-trip rate. The
handler stages its row here; a ``commit`` listener on the engine writes every staged row in
one ``executemany`` just before the commit, in the same transaction (so a failure fails
the commit and the platform retries the events one by one, then dead-letters). A rollback
drops what was staged. (A platform ``uow.stage()`` would make this unnecessary.)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["install_staging", "stage"]

_KEY = "hygie_audit_staged"


def stage(conn: AsyncConnection, table: sa.Table, row: dict[str, Any]) -> None:
    """Stage ``row`` for ``table``; written when the transaction commits."""
    staged: dict[sa.Table, list[dict[str, Any]]] = conn.sync_connection.info.setdefault(  # type: ignore[union-attr]
        _KEY, {}
    )
    staged.setdefault(table, []).append(row)


def install_staging(engine: AsyncEngine) -> None:
    """Flush staged rows (INSERT ... ON CONFLICT DO NOTHING) before each commit on this
    engine; drop them on rollback."""
    sync_engine = engine.sync_engine
    if not event.contains(sync_engine, "commit", _flush):
        event.listen(sync_engine, "commit", _flush)
        event.listen(sync_engine, "rollback", _drop)


def _flush(conn: Connection) -> None:
    staged = conn.info.pop(_KEY, None)
    for table, rows in (staged or {}).items():
        conn.execute(insert(table).on_conflict_do_nothing(), rows)


def _drop(conn: Connection) -> None:
    conn.info.pop(_KEY, None)
