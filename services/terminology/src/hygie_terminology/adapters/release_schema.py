"""A release's own PostgreSQL schema: staging tables, validation queries, indexes.

Each release lives in ``omop_r<id>``; tables are created without constraints so COPY
runs at full speed, checked by set-based queries that name the file line of each faulty
row (``_line``), then indexed and analysed. Activating a release is a pointer change in
``release`` (see :mod:`.releases`), so the previous release keeps serving until dropped.
"""

from __future__ import annotations

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
]

SAMPLE = 20


def schema_name(release_id: int) -> str:
    return f"omop_r{int(release_id)}"


async def create_staging(conn: asyncpg.Connection, schema: str) -> None:
    """The schema and its unconstrained tables, each with a file-line counter."""
    statements = [f"CREATE SCHEMA {schema}"]
    for spec in TABLES:
        cols = ", ".join(f"{c.name} {c.type}" for c in spec.columns)
        seq = f"{schema}.{spec.name}_line"
        statements.append(f"CREATE SEQUENCE {seq} START 2 CACHE 10000")
        statements.append(
            f"CREATE TABLE {schema}.{spec.name} ({cols}, _line bigint DEFAULT nextval('{seq}'))"
        )
    await conn.execute(";\n".join(statements))


async def drop_schema(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def _sample(
    conn: asyncpg.Connection, file: str, where_sql: str, reason_sql: str, table: str
) -> list[LoadProblem]:
    total = await conn.fetchval(f"SELECT count(*) FROM {table} x WHERE {where_sql}")
    if not total:
        return []
    rows = await conn.fetch(
        f"SELECT _line, {reason_sql} AS reason FROM {table} x WHERE {where_sql} "
        f"ORDER BY _line LIMIT {SAMPLE}"
    )
    problems = [LoadProblem(file, r["_line"], r["reason"]) for r in rows]
    if total > SAMPLE:
        problems.append(LoadProblem(file, None, f"{total} rows fail this check in total"))
    return problems


async def check_rows(conn: asyncpg.Connection, schema: str) -> list[LoadProblem]:
    """Required values present, codes from their value sets, concept ids unique."""
    problems: list[LoadProblem] = []
    for spec in TABLES:
        required = [c.name for c in spec.columns if c.required]
        where = " OR ".join(f"x.{c} IS NULL" for c in required)
        reason = (
            "'missing value in column ' || CASE "
            + " ".join(f"WHEN x.{c} IS NULL THEN '{c}'" for c in required)
            + " END"
        )
        problems += await _sample(conn, spec.file_name, where, reason, f"{schema}.{spec.name}")
    concept = f"{schema}.concept"
    problems += await _sample(
        conn,
        "CONCEPT.csv",
        "x.standard_concept NOT IN ('S', 'C')",
        "'standard_concept must be S, C or empty, not ' || quote_literal(x.standard_concept)",
        concept,
    )
    for spec in (table_by_name("concept"), table_by_name("concept_relationship")):
        problems += await _sample(
            conn,
            spec.file_name,
            "x.invalid_reason NOT IN ('D', 'U')",
            "'invalid_reason must be D, U or empty, not ' || quote_literal(x.invalid_reason)",
            f"{schema}.{spec.name}",
        )
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
    for table, column in CONCEPT_REFERENCES:
        spec = table_by_name(table)
        where = (
            f"x.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {schema}.concept c WHERE c.concept_id = x.{column})"
        )
        if drop_dangling:
            status = await conn.execute(f"DELETE FROM {schema}.{table} x WHERE {where}")
            dropped = int(status.split()[-1])
            if dropped:
                problems.append(
                    LoadProblem(
                        spec.file_name,
                        None,
                        f"{dropped} rows dropped: {column} names a concept not in CONCEPT.csv",
                        severity="warning",
                    )
                )
            continue
        problems += await _sample(
            conn,
            spec.file_name,
            where,
            f"'{column} ' || x.{column} || ' is not a concept of CONCEPT.csv'",
            f"{schema}.{table}",
        )
    if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {schema}.relationship)"):
        problems += await _sample(
            conn,
            "CONCEPT_RELATIONSHIP.csv",
            f"NOT EXISTS (SELECT 1 FROM {schema}.relationship r "
            "WHERE r.relationship_id = x.relationship_id)",
            "'relationship_id ' || quote_literal(x.relationship_id) "
            "|| ' is not in RELATIONSHIP.csv'",
            f"{schema}.concept_relationship",
        )
    return problems


def _index_statements(schema: str, spec: TableSpec) -> list[str]:
    out = []
    if spec.primary_key:
        out.append(
            f"ALTER TABLE {schema}.{spec.name} ADD PRIMARY KEY ({', '.join(spec.primary_key)})"
        )
    for i, expr in enumerate(spec.indexes):
        out.append(f"CREATE INDEX {spec.name}_{i} ON {schema}.{spec.name} ({expr})")
    return out


async def build_indexes(conn: asyncpg.Connection, schema: str) -> None:
    """Primary keys and the indexes the operations use, then statistics."""
    for spec in TABLES:
        for statement in _index_statements(schema, spec):
            await conn.execute(statement)
    await conn.execute(
        f"CREATE INDEX concept_name_trgm ON {schema}.concept "
        "USING gin (lower(concept_name) gin_trgm_ops)"
    )
    for spec in TABLES:
        await conn.execute(f"ANALYZE {schema}.{spec.name}")
