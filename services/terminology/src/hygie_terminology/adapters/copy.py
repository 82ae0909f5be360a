"""Streaming COPY of one Athena file into a staging table, collecting problems by line.

The file goes to PostgreSQL in 1 MiB chunks (never held in memory). ``ON_ERROR ignore``
with ``LOG_VERBOSITY verbose`` (PostgreSQL 17+) skips rows whose values do not convert and
reports each one as a NOTICE naming its line and column, so one pass finds every bad
value; a structural error (wrong column count) still aborts the COPY and is reported with
the line PostgreSQL names. Staging tables carry ``_line`` (a sequence default, filled in
file order) so that later checks report the file line of a faulty row.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from ..domain.athena import Dialect, TableSpec
from ..domain.errors import LoadProblem
from .release_schema import table_ddl

__all__ = ["CopyOutcome", "copy_file", "read_header"]

CHUNK = 1 << 20
MAX_PROBLEMS_PER_FILE = 100
_LINE = re.compile(r"line (\d+)")
_SKIPPED = re.compile(
    r'skipping row due to data type incompatibility at line (\d+) for column "?(\w+)"?: (.*)'
)


@dataclass
class CopyOutcome:
    rows: int = 0
    problems: list[LoadProblem] = field(default_factory=list)
    skipped: int = 0


def read_header(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        return f.readline().rstrip("\r\n")


def header_columns(header: str, dialect: Dialect) -> list[str]:
    sep = "\t" if dialect == "tab" else ","
    return [c.strip().strip('"').lower() for c in header.split(sep)]


async def _chunks(path: Path, progress: Callable[[int], None] | None) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            if progress:
                progress(len(chunk))
            yield chunk


def copy_statement(schema: str, spec: TableSpec, columns: list[str], dialect: Dialect) -> str:
    cols = ", ".join(columns)
    if dialect == "tab":
        # Athena files are not quoted: a quote character that never occurs disables quoting.
        fmt = "FORMAT csv, DELIMITER E'\\t', QUOTE E'\\b', HEADER true"
    else:
        nullable = [c.name for c in spec.columns if not c.required and c.name in columns]
        force_null = f", FORCE_NULL ({', '.join(nullable)})" if nullable else ""
        fmt = f"FORMAT csv, HEADER true{force_null}"
    return (
        f"COPY {schema}.{spec.name} ({cols}) FROM STDIN "
        f"({fmt}, ENCODING 'UTF8', FREEZE true, ON_ERROR ignore, LOG_VERBOSITY verbose)"
    )


async def copy_file(
    conn: asyncpg.Connection,
    *,
    schema: str,
    spec: TableSpec,
    path: Path,
    dialect: Dialect,
    progress: Callable[[int], None] | None = None,
) -> CopyOutcome:
    """COPY one file; problems carry the file name and line."""
    outcome = CopyOutcome()
    header = read_header(path)
    columns = header_columns(header, dialect)
    expected = set(spec.column_names)
    missing = [c for c in spec.column_names if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        reason = "header " + "; ".join(
            part
            for part in (
                f"lacks column(s) {', '.join(missing)}" if missing else "",
                f"has unknown column(s) {', '.join(extra)}" if extra else "",
            )
            if part
        )
        outcome.problems.append(LoadProblem(path.name, 1, reason))
        return outcome

    def on_notice(_: asyncpg.Connection, message: asyncpg.PostgresLogMessage) -> None:
        match = _SKIPPED.search(message.message)
        if not match:
            return
        outcome.skipped += 1
        if len(outcome.problems) < MAX_PROBLEMS_PER_FILE:
            line, column, why = int(match[1]), match[2], match[3]
            outcome.problems.append(LoadProblem(path.name, line, f"column {column}: {why}"))

    conn.add_log_listener(on_notice)
    try:
        async with conn.transaction():
            await conn.execute(table_ddl(schema, spec))
            # asyncpg's copy_to_table has no ON_ERROR option; _copy_in is what it calls.
            status = await conn._copy_in(
                copy_statement(schema, spec, columns, dialect), _chunks(path, progress), None
            )
        outcome.rows = int(status.split()[-1]) if status else 0
    except asyncpg.PostgresError as exc:
        where = getattr(exc, "context", None) or ""
        match = _LINE.search(where)
        outcome.problems.append(
            LoadProblem(path.name, int(match[1]) if match else None, str(exc).splitlines()[0])
        )
    finally:
        await asyncio.sleep(0)  # listeners run from the event loop: let pending ones run
        conn.remove_log_listener(on_notice)
    if outcome.skipped > len(outcome.problems):
        outcome.problems.append(
            LoadProblem(path.name, None, f"{outcome.skipped} rows with bad values in total")
        )
    return outcome
