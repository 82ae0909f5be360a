"""The starter set: a small OMOP vocabulary shipped with Hygie so that a demo hospital
works before an Athena download is loaded. Loaded through the same path as any release
(written as Athena files, validated, activated); SNOMED CT rows only when its licence is
confirmed."""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

import asyncpg

from hygie_platform.uow import UnitOfWorkFactory

from ..domain.athena import TABLES, table_by_name
from ..domain.licence import unconfirmed
from .loading import LoadResult, load_omop_release

__all__ = ["ensure_starter_set", "load_starter_set", "starter_content"]

_LOCK = zlib.crc32(b"hygie-terminology-starter")


def starter_content() -> dict[str, Any]:
    text = files("hygie_terminology.starter").joinpath("omop_starter.json").read_text("utf-8")
    content: dict[str, Any] = json.loads(text)
    return content


def _athena_date(iso: str) -> str:
    return iso.replace("-", "")


def _write(directory: Path, table: str, rows: Iterable[dict[str, Any]]) -> None:
    spec = table_by_name(table)
    lines = ["\t".join(spec.column_names)]
    for row in rows:
        values = []
        for column in spec.columns:
            value = str(row.get(column.name) or "")
            values.append(_athena_date(value) if column.type == "date" else value)
        lines.append("\t".join(values))
    (directory / spec.file_name).write_text("\n".join(lines) + "\n", encoding="utf-8")


async def load_starter_set(
    uow: UnitOfWorkFactory, dsn: str, *, accepted_licences: Iterable[str] = ()
) -> LoadResult:
    """Load the starter set as a new active release."""
    content = starter_content()
    accepted = list(accepted_licences)
    vocabularies = {c["vocabulary_id"] for c in content["concepts"]}
    gated = set(unconfirmed(vocabularies, accepted))
    concepts = [c for c in content["concepts"] if c["vocabulary_id"] not in gated]
    kept = {c["concept_id"] for c in concepts}
    relationships = [
        r
        for r in content["relationships"]
        if r["concept_id_1"] in kept and r["concept_id_2"] in kept
    ]
    with tempfile.TemporaryDirectory(prefix="hygie-starter-") as tmp:
        directory = Path(tmp)
        by_table = {"concept": concepts, "concept_relationship": relationships}
        for spec in TABLES:
            _write(directory, spec.name, by_table.get(spec.name, []))
        return await load_omop_release(
            uow=uow,
            dsn=dsn,
            directory=directory,
            label=content["label"],
            accepted_licences=accepted,
        )


async def ensure_starter_set(
    uow: UnitOfWorkFactory, dsn: str, *, accepted_licences: Iterable[str] = ()
) -> LoadResult | None:
    """Load the starter set when no release was ever loaded (replicas starting together
    load it once: a session advisory lock serialises them)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
        try:
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM release)"):
                return None
            return await load_starter_set(uow, dsn, accepted_licences=accepted_licences)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    finally:
        await conn.close()
