"""A release's own PostgreSQL schema: staging tables, validation queries, indexes.

Each release lives in ``omop_r<id>``; tables are created without constraints so COPY
runs at full speed, checked by set-based queries that name the file line of each faulty
row (``_line``), then indexed and analysed. Activating a release is a pointer change in
``release`` (see :mod:`.releases`), so the previous release keeps serving until dropped.
"""

from __future__ import annotations

import asyncio

import asyncpg

from ..domain.athena import CONCEPT_REFERENCES, TABLES, TableSpec, table_by_name
from ..domain.errors import LoadProblem

__all__ = [
    "build_indexes",
    "check_references",
    "check_rows",
    "create_staging",
    "drop_schema",
    "schema_name",
    "table_ddl",
    "tune_session",
]

SAMPLE = 20


def schema_name(release_id: int) -> str:
    return f"omop_r{int(release_id)}"


async def tune_session(conn: asyncpg.Connection) -> None:
    """Memory for the hash joins of the checks and for index builds of a bulk load."""
    await conn.execute(
        "SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'; "
        "SET max_parallel_maintenance_workers = 4; SET max_parallel_workers_per_gather = 4"
    )


def table_ddl(schema: str, spec: TableSpec) -> str:
    """An unconstrained staging table with a file-line counter. Created in the transaction
    of its COPY so that COPY can write frozen rows (no hint-bit rewrite on first scan)."""
    cols = ", ".join(f"{c.name} {c.type}" for c in spec.columns)
    seq = f"{schema}.{spec.name}_line"
    return (
        f"CREATE SEQUENCE {seq} START 2 CACHE 10000; "
        f"CREATE TABLE {schema}.{spec.name} ({cols}, _line bigint DEFAULT nextval('{seq}'))"
    )


async def create_staging(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f"CREATE SCHEMA {schema}")


async def drop_schema(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def _sample(
    conn: asyncpg.Connection, file: str, where_sql: str, reason_sql: str, source: str
) -> list[LoadProblem]:
    """Problems of the rows matching ``where_sql`` in ``source`` (the table aliased ``x``):
    the first ones by line, and the total (one scan; cheap when no row matches)."""
    rows = await conn.fetch(
        f"SELECT x._line, {reason_sql} AS reason, count(*) OVER () AS total FROM {source} "
        f"WHERE {where_sql} ORDER BY x._line LIMIT {SAMPLE}"
    )
    problems = [LoadProblem(file, r["_line"], r["reason"]) for r in rows]
    if rows and rows[0]["total"] > SAMPLE:
        total = rows[0]["total"]
        problems.append(LoadProblem(file, None, f"{total} rows fail this check in total"))
    return problems


#: Allowed values of coded columns: (table, column, values).
_VALUE_SETS = (
    ("concept", "standard_concept", ("S", "C")),
    ("concept", "invalid_reason", ("D", "U")),
    ("concept_relationship", "invalid_reason", ("D", "U")),
)


async def check_rows(conn: asyncpg.Connection, schema: str) -> list[LoadProblem]:
    """Required values present, codes from their value sets, concept ids unique: one
    scan per table, each faulty row reported with its first fault."""
    for spec in TABLES:  # statistics first: the checks' join plans depend on them
        await conn.execute(f"ANALYZE {schema}.{spec.name}")
    problems: list[LoadProblem] = []
    for spec in TABLES:
        checks = [
            (f"x.{c.name} IS NULL", f"'missing value in column {c.name}'")
            for c in spec.columns
            if c.required
        ]
        for table, column, values in _VALUE_SETS:
            if table == spec.name:
                allowed = ", ".join(f"'{v}'" for v in values)
                checks.append(
                    (
                        f"x.{column} NOT IN ({allowed})",
                        f"'{column} must be {', '.join(values)} or empty, not ' "
                        f"|| quote_literal(x.{column})",
                    )
                )
        if not checks:
            continue
        where = " OR ".join(f"({c})" for c, _ in checks)
        reason = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, r in checks) + " END"
        problems += await _sample(conn, spec.file_name, where, reason, f"{schema}.{spec.name} x")
    concept = f"{schema}.concept"
    duplicates = await conn.fetch(
        f"SELECT concept_id, array_agg(_line ORDER BY _line) AS lines FROM {concept} "
        f"GROUP BY concept_id HAVING count(*) > 1 ORDER BY min(_line) LIMIT {SAMPLE}"
    )
    for row in duplicates:
        first, *others = row["lines"]
        for line in others:
            problems.append(
                LoadProblem(
                    "CONCEPT.csv", line, f"concept_id {row['concept_id']} repeats line {first}"
                )
            )
    return problems


async def check_references(
    conn: asyncpg.Connection, schema: str, *, drop_dangling: bool
) -> list[LoadProblem]:
    """Every concept id referenced exists in CONCEPT; relationships are declared.

    With ``drop_dangling`` (a vocabulary *shard*, not closed by construction) the rows
    are removed and reported as warnings; otherwise they reject the release.
    """
    problems: list[LoadProblem] = []
    by_table: dict[str, list[str]] = {}
    for table, column in CONCEPT_REFERENCES:
        by_table.setdefault(table, []).append(column)
    for table, columns in by_table.items():
        spec = table_by_name(table)
        # One scan of the table, one hash anti-join per column.
        joins = " ".join(
            f"LEFT JOIN {schema}.concept c{i} ON c{i}.concept_id = x.{col}"
            for i, col in enumerate(columns)
        )
        missing = [
            f"(x.{col} IS NOT NULL AND c{i}.concept_id IS NULL)" for i, col in enumerate(columns)
        ]
        where = " OR ".join(missing)
        reason = (
            "CASE "
            + " ".join(
                f"WHEN {m} THEN '{col} ' || x.{col} || ' is not a concept of CONCEPT.csv'"
                for m, col in zip(missing, columns, strict=True)
            )
            + " END"
        )
        source = f"{schema}.{table} x {joins}"
        if drop_dangling:
            status = await conn.execute(
                f"DELETE FROM {schema}.{table} d USING (SELECT x.ctid AS row_id FROM {source} "
                f"WHERE {where}) bad WHERE d.ctid = bad.row_id"
            )
            dropped = int(status.split()[-1])
            if dropped:
                problems.append(
                    LoadProblem(
                        spec.file_name,
                        None,
                        f"{dropped} rows dropped: {' or '.join(columns)} names a concept "
                        "not in CONCEPT.csv",
                        severity="warning",
                    )
                )
            continue
        problems += await _sample(conn, spec.file_name, where, reason, source)
    if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {schema}.relationship)"):
        problems += await _sample(
            conn,
            "CONCEPT_RELATIONSHIP.csv",
            f"NOT EXISTS (SELECT 1 FROM {schema}.relationship r "
            "WHERE r.relationship_id = x.relationship_id)",
            "'relationship_id ' || quote_literal(x.relationship_id) "
            "|| ' is not in RELATIONSHIP.csv'",
            f"{schema}.concept_relationship x",
        )
    return problems


def _index_statements(schema: str, spec: TableSpec) -> list[str]:
    out = []
    if spec.primary_key:
        out.append(
            f"ALTER TABLE {schema}.{spec.name} ADD PRIMARY KEY ({', '.join(spec.primary_key)})"
        )
    for i, expr in enumerate(spec.indexes):
        out.append(f"CREATE INDEX {spec.name}_{i} ON {schema}.{spec.name} {expr}")
    return out


async def build_indexes(dsn: str, schema: str, *, parallel: int = 3) -> None:
    """Primary keys and the indexes the operations use, then statistics; tables are
    indexed concurrently on their own connections (the big two dominate)."""
    queue = sorted(TABLES, key=lambda t: t.name not in ("concept_relationship", "concept"))
    pending = list(queue)

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await tune_session(conn)
            while pending:
                spec = pending.pop(0)
                for statement in _index_statements(schema, spec):
                    await conn.execute(statement)
                await conn.execute(f"ANALYZE {schema}.{spec.name}")
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(parallel)))
