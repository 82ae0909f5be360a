"""Use case: load an OMOP vocabulary (Athena files) as a new release.

Nothing of a release that fails validation is served: its schema is dropped and the
``release`` row keeps the problems (file, line, reason); the active release is untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg

from hygie_platform.uow import UnitOfWorkFactory

from ..adapters import release_schema as staging
from ..adapters.copy import copy_file, read_header
from ..adapters.releases import ReleaseRepository
from ..domain.athena import CONCEPT_REFERENCES, TABLES, Dialect, TableSpec, detect_dialect
from ..domain.errors import LoadProblem, ReleaseRejected
from ..domain.licence import unconfirmed
from ..domain.systems import system_of
from .releases import activate_release

__all__ = ["LoadProgress", "LoadResult", "NullProgress", "find_files", "load_omop_release"]

Dangling = Literal["reject", "drop"]


class LoadProgress(Protocol):
    """What the loader reports while it works (the CLI draws progress bars)."""

    def file_started(self, name: str, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def file_done(self, name: str, rows: int) -> None: ...
    def step(self, text: str) -> None: ...


class NullProgress:
    def file_started(self, name: str, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def file_done(self, name: str, rows: int) -> None: ...
    def step(self, text: str) -> None: ...


@dataclass
class LoadResult:
    release_id: int
    label: str
    dialect: Dialect
    counts: dict[str, int]
    vocabularies: list[dict[str, Any]]
    problems: list[LoadProblem] = field(default_factory=list)
    activated: bool = False


def find_files(directory: Path) -> tuple[dict[str, Path], list[LoadProblem]]:
    """The file of each table (names matched case-insensitively), and missing ones."""
    by_name = {p.name.lower(): p for p in directory.iterdir() if p.is_file()}
    files: dict[str, Path] = {}
    problems = []
    for spec in TABLES:
        path = by_name.get(spec.file_name.lower())
        if path is not None:
            files[spec.name] = path
        elif spec.required_file:
            problems.append(LoadProblem(spec.file_name, None, f"missing from {directory}"))
    return files, problems


async def _copy_all(
    conn: asyncpg.Connection,
    schema: str,
    files: dict[str, Path],
    dialect: Dialect,
    progress: LoadProgress,
) -> tuple[dict[str, int], list[LoadProblem]]:
    counts: dict[str, int] = {}
    problems: list[LoadProblem] = []
    spec: TableSpec
    for spec in TABLES:
        path = files.get(spec.name)
        if path is None:
            await conn.execute(staging.table_ddl(schema, spec))
            counts[spec.name] = 0
            continue
        progress.file_started(path.name, path.stat().st_size)
        outcome = await copy_file(
            conn, schema=schema, spec=spec, path=path, dialect=dialect, progress=progress.advance
        )
        counts[spec.name] = outcome.rows
        problems += outcome.problems
        progress.file_done(path.name, outcome.rows)
    return counts, problems


async def _vocabularies(conn: asyncpg.Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT c.vocabulary_id, count(*) AS n, v.vocabulary_version FROM {schema}.concept c "
        f"LEFT JOIN {schema}.vocabulary v USING (vocabulary_id) "
        "GROUP BY c.vocabulary_id, v.vocabulary_version ORDER BY c.vocabulary_id"
    )
    return [
        {
            "vocabulary_id": r["vocabulary_id"],
            "system": system_of(r["vocabulary_id"]),
            "version": r["vocabulary_version"],
            "concept_count": r["n"],
        }
        for r in rows
    ]


def _errors(problems: Iterable[LoadProblem]) -> bool:
    return any(p.severity == "error" for p in problems)


async def load_omop_release(
    *,
    uow: UnitOfWorkFactory,
    dsn: str,
    directory: Path,
    label: str | None = None,
    dangling: Dangling = "reject",
    accepted_licences: Iterable[str] = (),
    activate: bool = True,
    progress: LoadProgress | None = None,
) -> LoadResult:
    """COPY the files into a new release schema, validate, index, then (optionally) activate.

    Raises :class:`ReleaseRejected` with every problem found when validation fails.
    """
    progress = progress or NullProgress()
    files, problems = find_files(directory)
    if problems:
        raise ReleaseRejected(None, problems)
    dialect = detect_dialect(read_header(files["concept"]))
    async with uow() as u:
        release = await ReleaseRepository(u.connection).create(
            label=label or directory.name, source=str(directory), dialect=dialect
        )
    schema = release.schema
    conn = await asyncpg.connect(dsn)
    try:
        try:
            progress.step(f"release {release.id}: staging schema {schema}")
            await staging.tune_session(conn)
            await staging.create_staging(conn, schema)
            counts, problems = await _copy_all(conn, schema, files, dialect, progress)
            if not _errors(problems):
                vocabularies = await _vocabularies(conn, schema)
                for vocab, why in unconfirmed(
                    (v["vocabulary_id"] for v in vocabularies), accepted_licences
                ).items():
                    problems.append(
                        LoadProblem(
                            "CONCEPT.csv",
                            None,
                            f"vocabulary {vocab} needs a licence ({why}); "
                            f"confirm it with --accept-licence {vocab!r}",
                        )
                    )
            if not _errors(problems):
                progress.step("checking rows and references")
                problems += await staging.check_rows(conn, schema)
                problems += await staging.check_references(
                    conn, schema, drop_dangling=dangling == "drop"
                )
            if not _errors(problems):
                progress.step("building indexes")
                await staging.build_indexes(dsn, schema)
        except asyncpg.PostgresError as exc:
            problems.append(LoadProblem(directory.name, None, f"database: {exc}"))
        if _errors(problems):
            await staging.drop_schema(conn, schema)
            async with uow() as u:
                await ReleaseRepository(u.connection).finish(
                    release.id, status="rejected", problems=problems
                )
            raise ReleaseRejected(release.id, problems)
        if dangling == "drop":  # rows were deleted after COPY counted them
            for table in {t for t, _ in CONCEPT_REFERENCES}:
                counts[table] = await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}")
        vocabularies = await _vocabularies(conn, schema)
        version = await conn.fetchval(
            f"SELECT vocabulary_version FROM {schema}.vocabulary WHERE vocabulary_id = 'None'"
        )
    finally:
        await conn.close()
    final_label = label or version or directory.name
    async with uow() as u:
        await ReleaseRepository(u.connection).finish(
            release.id,
            status="ready",
            problems=problems,
            vocabularies=vocabularies,
            counts=counts,
            label=final_label,
        )
    result = LoadResult(release.id, final_label, dialect, counts, vocabularies, problems)
    if activate:
        progress.step(f"activating release {release.id}")
        await activate_release(uow, release.id)
        result.activated = True
    return result
