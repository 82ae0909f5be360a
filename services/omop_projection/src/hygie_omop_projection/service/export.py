"""Snapshot exports: one CSV file per OMOP table, all read in one REPEATABLE READ
transaction so that the files are consistent with each other (``hygie omop export``).

Parquet needs a compiled library (pyarrow); the projection keeps to pure-Python
dependencies, so it writes CSV with a header row, which DuckDB and pandas read directly.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..adapters.cdm import CDM_TABLES, PRIMARY_KEYS

__all__ = ["export_csv"]


async def export_csv(engine: AsyncEngine, schema: str, directory: Path) -> dict[str, Any]:
    """Write ``<table>.csv`` for every CDM table and ``manifest.json`` (row counts, time)."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.execute("SET TRANSACTION READ ONLY")
            for table in CDM_TABLES:
                order = PRIMARY_KEYS.get(table, "1")
                status = await raw.copy_from_query(
                    f"SELECT * FROM {schema}.{table} ORDER BY {order}",
                    output=str(directory / f"{table}.csv"),
                    format="csv",
                    header=True,
                )
                counts[table] = int(status.split()[-1])
    manifest = {
        "schema": schema,
        "exported_at": datetime.now(UTC).isoformat(),
        "cdm_version": "5.4",
        "format": "csv",
        "rows": counts,
    }
    await asyncio.to_thread(
        (directory / "manifest.json").write_text, json.dumps(manifest, indent=2), encoding="utf-8"
    )
    return manifest
