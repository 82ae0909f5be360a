"""Stable integer ids of OMOP rows: ``public.omop_id_map`` (table, natural key) -> id,
shared by every generation so that ids survive new versions and rebuilds; keyed by a
64-bit hash of the pair (``omop_id_hash``, migration ``omop_0002``), the text checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["driver_of", "ids_many"]

_READ = (
    # by the compact hash key, the text pair checked
    "SELECT m.tbl, m.key, m.id FROM public.omop_id_map m JOIN unnest($1::text[], $2::text[]) "
    "AS w(tbl, key) ON m.h = public.omop_id_hash(w.tbl, w.key) AND m.tbl = w.tbl "
    "AND m.key = w.key"
)
_ALLOCATE = (
    "INSERT INTO public.omop_id_map (tbl, key, id) SELECT w.tbl, w.key, "
    "nextval('public.omop_id_seq') FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
    "AS w(tbl, key, n) ORDER BY w.n ON CONFLICT (h) DO NOTHING RETURNING tbl, key, id"
)


async def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's, its transaction open (a first statement
    opens it): thousands of keys or rows go through it without SQLAlchemy's per-row cost."""
    await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def ids_many(
    conn: AsyncConnection, keys: Mapping[str, Sequence[str]], *, driver: Any = None
) -> dict[str, dict[str, int]]:
    """Ids of the natural keys of several tables: the mapped ones read in one statement,
    then only the keys not mapped yet draw from the sequence (no ids burnt on replays)
    — one index probe per known key, one insert per new key. Keys are taken in order (two
    writers allocating the same keys cannot deadlock)."""
    tables: list[str] = []
    wanted: list[str] = []
    for table in sorted(keys):
        unique = sorted(set(keys[table]))
        tables += [table] * len(unique)
        wanted += unique
    if not wanted:
        return {}
    pg = driver if driver is not None else await driver_of(conn)
    out: dict[str, dict[str, int]] = {}
    _collect(await pg.fetch(_READ, tables, wanted), out)
    missing = [n for n, (t, k) in enumerate(zip(tables, wanted, strict=True))
               if k not in out.get(t, ())]  # fmt: skip
    if missing:
        mt, mk = [tables[n] for n in missing], [wanted[n] for n in missing]
        _collect(await pg.fetch(_ALLOCATE, mt, mk), out)
        late = [(t, k) for t, k in zip(mt, mk, strict=True) if k not in out.get(t, ())]
        if late:  # inserted by another writer meanwhile (ON CONFLICT): read them now
            lt, lk = [p[0] for p in late], [p[1] for p in late]
            _collect(await pg.fetch(_READ, lt, lk), out)
            clash = [p for p in late if p[1] not in out.get(p[0], {})]
            if clash:  # another key has the same hash: refused, never a shared id
                raise RuntimeError(f"omop id map: hash collision for {clash[:3]}")
    return out


def _collect(rows: Sequence[Any], out: dict[str, dict[str, int]]) -> None:
    for table, key, row_id in rows:
        out.setdefault(table, {})[key] = row_id
