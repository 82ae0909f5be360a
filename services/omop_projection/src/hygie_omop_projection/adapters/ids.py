"""Stable integer ids of OMOP rows: ``public.omop_id_map`` (table, natural key) -> id,
shared by every generation so that ids survive new versions and rebuilds; keyed by a
64-bit hash of the pair (``omop_id_hash``, migration ``omop_0002``), the text checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["driver_of", "ids_many"]

_IDS = (
    # one statement: the keys already mapped are found (by the compact hash, the text pair
    # checked), only the others draw from the sequence (no id burnt on a replay); rows
    # come back as (position, id, same): ``same`` false is another key of the same hash
    "WITH w AS MATERIALIZED (SELECT u.t, u.k, u.n, public.omop_id_hash(u.t, u.k) AS h "
    "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(t, k, n)), "
    "found AS MATERIALIZED (SELECT w.n, m.id, m.tbl = w.t AND m.key = w.k AS same FROM w "
    "JOIN public.omop_id_map m ON m.h = w.h), "
    "made AS (INSERT INTO public.omop_id_map (tbl, key, id) SELECT w.t, w.k, "
    "nextval('public.omop_id_seq') FROM w WHERE NOT EXISTS (SELECT 1 FROM found f "
    "WHERE f.n = w.n) ORDER BY w.n ON CONFLICT (h) DO NOTHING RETURNING h, tbl, key, id) "
    "SELECT n, id, same FROM found UNION ALL SELECT w.n, made.id, true FROM made "
    "JOIN w ON w.h = made.h AND w.t = made.tbl AND w.k = made.key"
)
_READ = (
    "SELECT m.tbl, m.key, m.id FROM public.omop_id_map m JOIN unnest($1::text[], $2::text[]) "
    "AS w(tbl, key) ON m.h = public.omop_id_hash(w.tbl, w.key) AND m.tbl = w.tbl "
    "AND m.key = w.key"
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
    """Ids of the natural keys of several tables, in one statement: the mapped ones found,
    only the keys not mapped yet drawing from the sequence (no ids burnt on replays) — one
    index probe per known key, one insert per new key; positions and ids come back, not
    the keys. Keys are taken in order (two writers allocating the same keys cannot
    deadlock); a key another writer inserted meanwhile is read after."""
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
    clash: list[tuple[str, str]] = []
    got = 0
    for n, row_id, same in await pg.fetch(_IDS, tables, wanted):
        t, k = tables[n - 1], wanted[n - 1]
        if same:
            out.setdefault(t, {})[k] = row_id
            got += 1
        else:
            clash.append((t, k))
    if clash:  # another key has the same hash: refused, never a shared id
        raise RuntimeError(f"omop id map: hash collision for {clash[:3]}")
    if got < len(wanted):  # inserted by another writer meanwhile (ON CONFLICT): read them
        late = [(t, k) for t, k in zip(tables, wanted, strict=True) if k not in out.get(t, ())]
        _collect(await pg.fetch(_READ, [p[0] for p in late], [p[1] for p in late]), out)
        missing = [p for p in late if p[1] not in out.get(p[0], {})]
        if missing:
            raise RuntimeError(f"omop id map: hash collision for {missing[:3]}")
    return out


def _collect(rows: Sequence[Any], out: dict[str, dict[str, int]]) -> None:
    for table, key, row_id in rows:
        out.setdefault(table, {})[key] = row_id
