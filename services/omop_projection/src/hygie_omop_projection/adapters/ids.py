"""Stable integer ids of OMOP rows: ``public.omop_id_map`` (table, natural key) -> id,
shared by every generation so that ids survive new versions and rebuilds; keyed by a
64-bit hash of the pair (``omop_id_hash``, migration ``omop_0002``), the text checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ids_many"]


async def ids_many(
    conn: AsyncConnection, keys: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, int]]:
    """Ids of the natural keys of several tables: the mapped ones read in one statement,
    then only the keys not mapped yet draw from the sequence (no ids burnt on replays)
    — one index probe per known key, one insert per new key."""
    pairs = sorted({(t, k) for t, table_keys in keys.items() for k in table_keys})
    if not pairs:
        return {}
    out: dict[str, dict[str, int]] = {}
    await _read_ids(conn, pairs, out)
    missing = [p for p in pairs if p[1] not in out.get(p[0], {})]
    if missing:
        rows = await conn.execute(
            text(
                "INSERT INTO public.omop_id_map (tbl, key, id) SELECT w.tbl, w.key, "
                "nextval('public.omop_id_seq') FROM unnest(CAST(:t AS text[]), "
                "CAST(:k AS text[])) WITH ORDINALITY AS w(tbl, key, n) ORDER BY w.n "
                "ON CONFLICT (h) DO NOTHING RETURNING tbl, key, id"
            ),
            {"t": [p[0] for p in missing], "k": [p[1] for p in missing]},
        )
        for table, key, row_id in rows.all():
            out.setdefault(table, {})[key] = row_id
        late = [p for p in missing if p[1] not in out.get(p[0], {})]
        if late:  # inserted by another writer meanwhile (ON CONFLICT): read them now
            await _read_ids(conn, late, out)
            clash = [p for p in late if p[1] not in out.get(p[0], {})]
            if clash:  # another key has the same hash: refused, never a shared id
                raise RuntimeError(f"omop id map: hash collision for {clash[:3]}")
    return out


async def _read_ids(
    conn: AsyncConnection, pairs: Sequence[tuple[str, str]], out: dict[str, dict[str, int]]
) -> None:
    rows = await conn.execute(
        text(
            # by the compact hash key, the text pair checked
            "SELECT m.tbl, m.key, m.id FROM public.omop_id_map m JOIN unnest("
            "CAST(:t AS text[]), CAST(:k AS text[])) AS w(tbl, key) "
            "ON m.h = public.omop_id_hash(w.tbl, w.key) AND m.tbl = w.tbl AND m.key = w.key"
        ),
        {"t": [p[0] for p in pairs], "k": [p[1] for p in pairs]},
    )
    for table, key, row_id in rows.all():
        out.setdefault(table, {})[key] = row_id
