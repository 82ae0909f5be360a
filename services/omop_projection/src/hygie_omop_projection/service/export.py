"""Snapshot exports: one file per OMOP table (CSV or Parquet), all read in one
REPEATABLE READ, READ ONLY transaction so that the files are consistent with each other
(``hygie omop export [--format parquet] DIR``), and ``manifest.json`` (row counts, time).

Parquet columns carry the CDM types (integer → int32, date → date32, TIMESTAMP →
timestamp[us], NUMERIC → float64, varchar → string), so DuckDB and pandas read them
without guessing; rows are streamed from a server-side cursor in chunks.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..adapters.cdm import CDM_TABLES, PRIMARY_KEYS

__all__ = ["ExportFormat", "export_csv", "export_snapshot", "parquet_schema"]

ExportFormat = Literal["csv", "parquet"]
_CHUNK = 50_000


def _arrow_type(kind: str) -> pa.DataType:
    if kind == "integer":
        return pa.int32()
    if kind == "date":
        return pa.date32()
    if kind == "TIMESTAMP":
        return pa.timestamp("us")
    if kind == "NUMERIC":
        return pa.float64()
    return pa.string()


def parquet_schema(table: str) -> pa.Schema:
    """The Arrow schema of a CDM table (nullability per the specification)."""
    return pa.schema(
        [pa.field(name, _arrow_type(kind), nullable=not required)
         for name, kind, required in CDM_TABLES[table]]
    )  # fmt: skip


def _select(schema: str, table: str) -> str:
    # NUMERIC read as float8: Parquet float64 (asyncpg would give Decimal objects)
    columns = ", ".join(
        f"{name}::float8 AS {name}" if kind == "NUMERIC" else name
        for name, kind, _ in CDM_TABLES[table]
    )
    return f"SELECT {columns} FROM {schema}.{table} ORDER BY {PRIMARY_KEYS.get(table, '1')}"


async def _parquet(raw: Any, schema: str, table: str, path: Path) -> int:
    arrow = parquet_schema(table)
    names = arrow.names
    count = 0
    writer = await asyncio.to_thread(pq.ParquetWriter, str(path), arrow, compression="zstd")
    try:
        cursor = await raw.cursor(_select(schema, table))
        while True:
            records = await cursor.fetch(_CHUNK)
            if not records:
                break
            columns = [[r[i] for r in records] for i in range(len(names))]
            batch = pa.RecordBatch.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(columns, arrow, strict=True)],
                schema=arrow,
            )
            await asyncio.to_thread(writer.write_batch, batch)
            count += len(records)
    finally:
        await asyncio.to_thread(writer.close)
    return count


async def export_snapshot(
    engine: AsyncEngine, schema: str, directory: Path, *, fmt: ExportFormat = "csv"
) -> dict[str, Any]:
    """Write ``<table>.<fmt>`` for every CDM table and ``manifest.json``."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown export format {fmt!r} (csv or parquet)")
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            # through SQLAlchemy first: its adapter opens the asyncpg transaction lazily, on
            # the first statement it runs (a raw statement before it would run outside)
            await conn.execute(text("SET TRANSACTION READ ONLY"))
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            assert raw.is_in_transaction()
            for table in CDM_TABLES:
                path = directory / f"{table}.{fmt}"
                if fmt == "parquet":
                    counts[table] = await _parquet(raw, schema, table, path)
                    continue
                order = PRIMARY_KEYS.get(table, "1")
                status = await raw.copy_from_query(
                    f"SELECT * FROM {schema}.{table} ORDER BY {order}",
                    output=str(path),
                    format="csv",
                    header=True,
                )
                counts[table] = int(status.split()[-1])
            snapshot = await raw.fetchval("SELECT now()")  # the transaction's start
            isolation = await raw.fetchval("SHOW transaction_isolation")
    manifest = {
        "schema": schema,
        "exported_at": datetime.now(UTC).isoformat(),
        "snapshot_at": snapshot.isoformat(),
        "isolation": isolation,
        "cdm_version": "5.4",
        "format": fmt,
        "rows": counts,
    }
    await asyncio.to_thread(
        (directory / "manifest.json").write_text, json.dumps(manifest, indent=2), encoding="utf-8"
    )
    return manifest


async def export_csv(engine: AsyncEngine, schema: str, directory: Path) -> dict[str, Any]:
    """CSV snapshot (``export_snapshot(..., fmt="csv")``)."""
    return await export_snapshot(engine, schema, directory, fmt="csv")
