"""Stored FHIR CodeSystem, ValueSet and ConceptMap resources (versioned by ``url|version``),
with CodeSystem concepts and ConceptMap elements flattened for the operations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["FhirConcept", "FhirStore", "MapRow", "StoredResource"]


@dataclass(frozen=True)
class StoredResource:
    resource_type: str
    url: str
    version: str
    id: str
    content: dict[str, Any]


@dataclass(frozen=True)
class FhirConcept:
    code: str
    display: str | None
    definition: str | None
    parents: list[str]
    designations: list[dict[str, Any]]
    properties: list[dict[str, Any]]


@dataclass(frozen=True)
class MapRow:
    url: str
    source_system: str
    source_code: str
    target_system: str
    target_code: str
    target_display: str | None
    equivalence: str


def _resource(row: Any) -> StoredResource:
    return StoredResource(row.resource_type, row.url, row.version, row.id, row.content)


class FhirStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def upsert(self, resource: dict[str, Any], *, version: str) -> StoredResource | None:
        """Store a resource; return the one it replaced (same ``url|version``), if any."""
        rtype, url = resource["resourceType"], resource["url"]
        previous = await self.get(rtype, url, version)
        await self.conn.execute(
            text(
                "INSERT INTO fhir_resource (resource_type, url, version, id, name, title, status, "
                "content) VALUES (:t, :u, :v, :id, :name, :title, :status, CAST(:c AS jsonb)) "
                "ON CONFLICT (resource_type, url, version) DO UPDATE SET id = EXCLUDED.id, "
                "name = EXCLUDED.name, title = EXCLUDED.title, status = EXCLUDED.status, "
                "content = EXCLUDED.content, loaded_at = now()"
            ),
            {
                "t": rtype,
                "u": url,
                "v": version,
                "id": resource["id"],
                "name": resource.get("name"),
                "title": resource.get("title"),
                "status": resource.get("status") or "active",
                "c": orjson.dumps(resource).decode(),
            },
        )
        return previous

    async def get(
        self, resource_type: str, url: str, version: str | None = None
    ) -> StoredResource | None:
        """A resource by ``url`` (and version; without one, the latest loaded)."""
        where = "AND version = :v" if version is not None else ""
        row = (
            await self.conn.execute(
                text(
                    "SELECT resource_type, url, version, id, content FROM fhir_resource "
                    f"WHERE resource_type = :t AND url = :u {where} "
                    "ORDER BY loaded_at DESC LIMIT 1"
                ),
                {"t": resource_type, "u": url, "v": version},
            )
        ).one_or_none()
        return _resource(row) if row else None

    async def by_id(self, resource_type: str, id_: str) -> StoredResource | None:
        row = (
            await self.conn.execute(
                text(
                    "SELECT resource_type, url, version, id, content FROM fhir_resource "
                    "WHERE resource_type = :t AND id = :id"
                ),
                {"t": resource_type, "id": id_},
            )
        ).one_or_none()
        return _resource(row) if row else None

    async def search(
        self, resource_type: str, *, url: str | None = None, name: str | None = None
    ) -> list[StoredResource]:
        rows = await self.conn.execute(
            text(
                "SELECT resource_type, url, version, id, content FROM fhir_resource "
                "WHERE resource_type = :t AND (CAST(:u AS text) IS NULL OR url = :u) "
                "AND (CAST(:n AS text) IS NULL OR name ILIKE :n || '%') ORDER BY url, version"
            ),
            {"t": resource_type, "u": url, "n": name},
        )
        return [_resource(r) for r in rows]

    # --- CodeSystem concepts -------------------------------------------------------------

    async def replace_concepts(
        self, url: str, version: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        await self.conn.execute(
            text("DELETE FROM fhir_concept WHERE url = :u AND version = :v"),
            {"u": url, "v": version},
        )
        if rows:
            await self.conn.execute(
                text(
                    "INSERT INTO fhir_concept (url, version, code, display, definition, parents, "
                    "designations, properties) VALUES (:url, :version, :code, :display, "
                    ":definition, :parents, CAST(:designations AS jsonb), "
                    "CAST(:properties AS jsonb))"
                ),
                [
                    {
                        **r,
                        "url": url,
                        "version": version,
                        "designations": orjson.dumps(r["designations"]).decode(),
                        "properties": orjson.dumps(r["properties"]).decode(),
                    }
                    for r in rows
                ],
            )

    async def concept(self, url: str, version: str, code: str) -> FhirConcept | None:
        row = (
            await self.conn.execute(
                text(
                    "SELECT code, display, definition, parents, designations, properties "
                    "FROM fhir_concept WHERE url = :u AND version = :v AND code = :c"
                ),
                {"u": url, "v": version, "c": code},
            )
        ).one_or_none()
        return FhirConcept(*row) if row else None

    async def children(self, url: str, version: str, code: str) -> list[str]:
        rows = await self.conn.execute(
            text(
                "SELECT code FROM fhir_concept WHERE url = :u AND version = :v "
                "AND :c = ANY(parents) ORDER BY code"
            ),
            {"u": url, "v": version, "c": code},
        )
        return [r[0] for r in rows]

    async def is_descendant(self, url: str, version: str, ancestor: str, code: str) -> bool:
        return bool(
            await self.conn.scalar(
                text(
                    "WITH RECURSIVE up(code) AS (SELECT CAST(:c AS text) UNION "
                    "SELECT unnest(f.parents) FROM fhir_concept f JOIN up ON f.code = up.code "
                    "WHERE f.url = :u AND f.version = :v) "
                    "SELECT EXISTS (SELECT 1 FROM up WHERE code = :a)"
                ),
                {"u": url, "v": version, "a": ancestor, "c": code},
            )
        )

    # --- ConceptMap elements -------------------------------------------------------------

    async def replace_map(
        self, url: str, version: str, rows: Sequence[MapRow]
    ) -> set[tuple[str, str]]:
        """Replace a map's elements; return the (source system, code) whose targets changed."""
        before = await self._map_rows(url, version)
        await self.conn.execute(
            text("DELETE FROM fhir_map WHERE url = :u AND version = :v"), {"u": url, "v": version}
        )
        if rows:
            await self.conn.execute(
                text(
                    "INSERT INTO fhir_map (url, version, source_system, source_code, "
                    "target_system, target_code, target_display, equivalence) VALUES "
                    "(:url, :version, :source_system, :source_code, :target_system, "
                    ":target_code, :target_display, :equivalence) ON CONFLICT DO NOTHING"
                ),
                [{**r.__dict__, "version": version} for r in rows],
            )
        after = {
            (r.source_system, r.source_code, r.target_system, r.target_code, r.equivalence)
            for r in rows
        }
        return {(t[0], t[1]) for t in before ^ after}

    async def _map_rows(self, url: str, version: str) -> set[tuple[str, str, str, str, str]]:
        rows = await self.conn.execute(
            text(
                "SELECT source_system, source_code, target_system, target_code, equivalence "
                "FROM fhir_map WHERE url = :u AND version = :v"
            ),
            {"u": url, "v": version},
        )
        return {(r[0], r[1], r[2], r[3], r[4]) for r in rows}

    async def map_sources(self, target_system: str, code: str) -> list[MapRow]:
        """Elements of every map whose target is this code (reverse $translate)."""
        rows = await self.conn.execute(
            text(
                "SELECT url, source_system, source_code, target_system, target_code, "
                "target_display, equivalence FROM fhir_map WHERE target_system = :s "
                "AND target_code = :c ORDER BY url, source_system, source_code"
            ),
            {"s": target_system, "c": code},
        )
        return [MapRow(*r) for r in rows]

    async def map_targets(
        self, source_system: str, codes: Sequence[str], *, url: str | None = None
    ) -> list[MapRow]:
        rows = await self.conn.execute(
            text(
                "SELECT url, source_system, source_code, target_system, target_code, "
                "target_display, equivalence FROM fhir_map WHERE source_system = :s "
                "AND source_code = ANY(CAST(:codes AS text[])) "
                "AND (CAST(:url AS text) IS NULL OR url = :url) ORDER BY url, target_code"
            ),
            {"s": source_system, "codes": list(codes), "url": url},
        )
        return [MapRow(*r) for r in rows]
