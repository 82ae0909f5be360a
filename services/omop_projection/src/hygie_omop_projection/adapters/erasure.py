"""SQL of an EHR's erasure in one generation schema: everything projected from the EHR.

The OMOP rows (found through ``lineage``), their lineage, their ids in the shared
``public.omop_id_map`` (every key of the EHR's compositions, ``<voi>|...``, including rows
an earlier version had), the unmapped report, the compositions kept as state and the EHR
row. The person stays: the patient is still known to the patient index.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .cdm import CLINICAL_TABLES, PRIMARY_KEYS

__all__ = ["erase_ehrs"]


async def erase_ehrs(
    conn: AsyncConnection, schema: str, ehr_ids: Sequence[UUID]
) -> list[tuple[str, int, int]]:
    """Remove what the EHRs produced; return the OMOP rows removed (table, id, person)."""
    s = schema
    vois = [
        r[0]
        for r in await conn.execute(
            text(f"DELETE FROM {s}.composition WHERE ehr_id = ANY(CAST(:e AS uuid[])) "
                 "RETURNING versioned_object_id"),
            {"e": list(ehr_ids)},
        )
    ]  # fmt: skip
    removed = [
        (r[0], r[1], r[2])
        for r in await conn.execute(
            text(f"DELETE FROM {s}.lineage WHERE versioned_object_id = ANY(CAST(:v AS text[])) "
                 "RETURNING omop_table, omop_id, person_id"),
            {"v": vois},
        )
    ]  # fmt: skip
    by_table: dict[str, list[int]] = {}
    for table, row_id, _ in removed:
        by_table.setdefault(table, []).append(row_id)
    for table, row_ids in by_table.items():
        await conn.execute(
            text(f"DELETE FROM {s}.{table} WHERE {PRIMARY_KEYS[table]} = "
                 "ANY(CAST(:i AS integer[]))"),
            {"i": row_ids},
        )  # fmt: skip
    if vois:
        # keys are ``<voi>|<path>|<rule>``, hashed with the table and the voi in the high
        # 32 bits: one range of ``h`` per composition and table, the text key checked
        # ('}' follows '|' in the C collation's code point order)
        await conn.execute(
            text("DELETE FROM public.omop_id_map m USING (SELECT c.voi, t.tbl, "
                 "public.omop_id_hash(t.tbl, c.voi) >> 32 << 32 AS lo FROM "
                 "unnest(CAST(:v AS text[])) AS c(voi), unnest(CAST(:t AS text[])) AS t(tbl)) r "
                 "WHERE m.h BETWEEN r.lo AND r.lo + 4294967295 AND m.tbl = r.tbl "
                 "AND m.key >= r.voi || '|' AND m.key < r.voi || '}'"),
            {"v": vois, "t": list(CLINICAL_TABLES)},
        )  # fmt: skip
        await conn.execute(
            text(f"DELETE FROM {s}.problem WHERE versioned_object_id = ANY(CAST(:v AS text[]))"),
            {"v": vois},
        )
    await conn.execute(
        text(f"DELETE FROM {s}.ehr WHERE ehr_id = ANY(CAST(:e AS uuid[]))"),
        {"e": list(ehr_ids)},
    )
    return removed
