"""Binary COPY of OMOP rows, lineage and problems into a generation schema.

A composition's clinical rows are removed (by id, from its previous lineage) before its
new rows are copied in, so COPY — several times cheaper than ``INSERT ... ON CONFLICT``
per row — replaces an upsert: a row's id comes from its natural key, which belongs to one
composition only. Runs in the unit of work's transaction (asyncpg's connection under
SQLAlchemy's, after a first statement has opened the transaction).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .cdm import CDM_TABLES

__all__ = ["LINEAGE_COLUMNS", "PROBLEM_COLUMNS", "Copier"]

LINEAGE_COLUMNS = (
    "omop_table", "omop_id", "person_id", "ehr_id", "versioned_object_id", "version_uid",
    "archetype_path", "event_id",
)  # fmt: skip
PROBLEM_COLUMNS = (
    "versioned_object_id", "n", "kind", "archetype_id", "path", "detail", "system", "code",
)  # fmt: skip


def _numeric(value: Any) -> Any:
    """A float for a NUMERIC column as PostgreSQL's own float8 → numeric cast gives it
    (``Decimal(36.9)`` would keep the binary expansion 36.899999999999998578...)."""
    return Decimal(repr(value)) if isinstance(value, float) else value


class Copier:
    """COPY into the tables of one generation schema through an open connection."""

    def __init__(self, conn: AsyncConnection, schema: str) -> None:
        self.conn = conn
        self.schema = schema
        self._driver: Any = None

    async def driver(self) -> Any:
        if self._driver is None:
            await self.conn.execute(text("SELECT 1"))  # the transaction is open from here
            raw = await self.conn.get_raw_connection()
            self._driver = raw.driver_connection
        return self._driver

    async def copy(
        self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
    ) -> None:
        if records:
            pg = await self.driver()
            await pg.copy_records_to_table(
                table, schema_name=self.schema, columns=list(columns), records=records
            )

    async def rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """OMOP rows (dicts by column; absent columns NULL)."""
        names, base, getter, numeric = _layout(table)
        records = [getter({**base, **row}) for row in rows]  # absent columns None, in C
        if numeric:
            for n, record in enumerate(records):
                if any(type(record[i]) is float for i in numeric):
                    fixed = list(record)
                    for i in numeric:
                        fixed[i] = _numeric(fixed[i])
                    records[n] = tuple(fixed)
        await self.copy(table, names, records)


@functools.cache
def _layout(table: str) -> tuple[list[str], dict[str, None], Any, list[int]]:
    """Column names of a CDM table, a row of NULLs, a getter of the columns in order, and
    the positions of its NUMERIC columns."""
    columns = CDM_TABLES[table]
    names = [c for c, _, _ in columns]
    numeric = [i for i, (_, kind, _) in enumerate(columns) if kind == "NUMERIC"]
    return names, dict.fromkeys(names), operator.itemgetter(*names), numeric
