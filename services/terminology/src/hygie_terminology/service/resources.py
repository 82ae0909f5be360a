"""Use case: load FHIR CodeSystem, ValueSet and ConceptMap resources (JSON files, Bundles
or directories), versioned by ``url|version``, all or nothing, each change announced on
``hygie.terminology.v1``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hygie_contracts.terminology import (
    ChangeKind,
    CodeSystemChanged,
    ConceptMapChanged,
    ValueSetChanged,
)
from hygie_platform.uow import UnitOfWorkFactory

from ..adapters.expansion_store import ExpansionStore
from ..adapters.fhir_store import FhirStore, MapRow
from ..domain.errors import ResourcesRejected
from ..domain.fhir_resources import ParsedResource, parse_resource, resources_of
from ..domain.systems import OMOP_SYSTEM, system_of
from .catalog import open_catalog

__all__ = ["LoadedResource", "load_fhir_resources", "read_documents"]

MAX_CODES_IN_EVENT = 10_000


@dataclass(frozen=True)
class LoadedResource:
    resource_type: str
    url: str
    version: str
    change: str
    count: int


def read_documents(path: Path) -> Iterator[tuple[str, Any]]:
    """``(where, JSON document)`` of a file or of every ``*.json`` under a directory."""
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    for file in files:
        try:
            yield str(file), orjson.loads(file.read_bytes())
        except orjson.JSONDecodeError as exc:
            yield str(file), {"resourceType": None, "_error": f"not JSON: {exc}"}


def _parse_all(documents: Iterable[tuple[str, Any]]) -> tuple[list[ParsedResource], list[str]]:
    parsed, problems = [], []
    for where, document in documents:
        if isinstance(document, dict) and document.get("_error"):
            problems.append(f"{where}: {document['_error']}")
            continue
        for i, resource in enumerate(resources_of(document)):
            label = where if document is resource else f"{where}: entry[{i}]"
            item, issues = parse_resource(resource, label)
            problems += issues
            if item is not None:
                parsed.append(item)
    return parsed, problems


async def _check_references(store: FhirStore, cat: Any, parsed: list[ParsedResource]) -> list[str]:
    """A ConceptMap must name code systems the server knows (loaded now or before, or an
    OMOP vocabulary of the active release); OMOP targets must be concepts."""
    known = {p.resource["url"] for p in parsed if p.resource["resourceType"] == "CodeSystem"}
    if cat.release is not None:
        known |= {OMOP_SYSTEM} | {system_of(v) for v in cat.release_vocabularies()}
    problems = []
    for p in parsed:
        if p.resource["resourceType"] != "ConceptMap":
            continue
        for system in sorted(p.systems_used - known):
            if await store.get("CodeSystem", system) is None:
                problems.append(f"{p.key}: code system {system} is not known to the server")
        omop_ids = {
            int(r["target_code"])
            for r in p.map_rows
            if r["target_system"] == OMOP_SYSTEM and r["target_code"].isdigit()
        }
        if omop_ids and cat.release is not None:
            missing = sorted(omop_ids - set(await cat.vocab.by_ids(sorted(omop_ids))))
            if missing:
                problems.append(f"{p.key}: OMOP concept(s) {missing[:20]} are not in the release")
    return problems


async def load_fhir_resources(
    uow: UnitOfWorkFactory, documents: Iterable[tuple[str, Any]]
) -> list[LoadedResource]:
    """Store every resource or none (ResourcesRejected lists the problems)."""
    parsed, problems = _parse_all(documents)
    if not parsed and not problems:
        problems.append("no CodeSystem, ValueSet or ConceptMap found")
    loaded: list[LoadedResource] = []
    async with uow() as u:
        store = FhirStore(u.connection)
        problems += await _check_references(store, await open_catalog(u.connection), parsed)
        if problems:
            raise ResourcesRejected(problems)
        await ExpansionStore(u.connection).forget(all_releases=True)
        for p in parsed:
            r, rtype = p.resource, p.resource["resourceType"]
            previous = await store.upsert(r, version=p.version)
            change: ChangeKind = "replaced" if previous else "created"
            count = 0
            if rtype == "CodeSystem":
                await store.replace_concepts(r["url"], p.version, p.concepts)
                count = len(p.concepts)
                u.record(
                    CodeSystemChanged(
                        url=r["url"], version=p.version, change=change, concept_count=count
                    )
                )
            elif rtype == "ValueSet":
                u.record(ValueSetChanged(url=r["url"], version=p.version, change=change))
            else:
                rows = [MapRow(**row) for row in p.map_rows]
                changed = await store.replace_map(r["url"], p.version, rows)
                count = len(rows)
                by_source: dict[str, set[str]] = defaultdict(set)
                targets = {row.source_system: row.target_system for row in rows}
                for system, code in changed:
                    by_source[system].add(code)
                for system, codes in sorted(by_source.items()):
                    u.record(
                        ConceptMapChanged(
                            source_system=system,
                            url=r["url"],
                            version=p.version,
                            target_system=targets.get(system) or None,
                            change=change,
                            changed_source_codes=tuple(sorted(codes)[:MAX_CODES_IN_EVENT]),
                            all_changed=len(codes) > MAX_CODES_IN_EVENT,
                        )
                    )
            loaded.append(LoadedResource(rtype, r["url"], p.version, change, count))
    return loaded
