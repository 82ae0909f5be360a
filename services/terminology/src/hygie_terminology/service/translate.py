"""ConceptMap/$translate and the batch translate of projections.

Two sources of mappings: explicit FHIR ConceptMaps (a hospital's local codes, checked
first so that they can override) and the OMOP vocabulary's "Maps to" relationships, which
take any source code of a loaded vocabulary to its standard concept(s).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from hygie_contracts.terminology import TranslateBatchRequest

from ..domain.concepts import Concept
from ..domain.errors import UnknownSystem
from ..domain.systems import OMOP_SYSTEM, system_of, vocabulary_of
from .catalog import Catalog, OmopSystem
from .lookup import find_concept

__all__ = ["Match", "reverse_translate", "translate", "translate_batch"]

MAPS_TO = "Maps to"
MAPS_TO_VALUE = "Maps to value"
MAPPED_FROM = "Mapped from"


@dataclass(frozen=True)
class Match:
    equivalence: str
    system: str
    code: str
    display: str | None
    source: str  # the ConceptMap url, or "omop:Maps to"


def _omop_match(concept: Concept, relationship: str, target_system: str | None) -> Match | None:
    if target_system in (None, OMOP_SYSTEM):
        system, code = OMOP_SYSTEM, str(concept.concept_id)
    elif vocabulary_of(target_system) == concept.vocabulary_id:
        system, code = target_system, concept.concept_code
    else:
        return None
    equivalence = "equivalent" if relationship in (MAPS_TO, MAPPED_FROM) else "relatedto"
    return Match(equivalence, system, code, concept.name, f"omop:{relationship}")


async def reverse_translate(
    cat: Catalog, *, system: str, code: str, target_system: str | None = None
) -> list[Match]:
    """Codes that map to this one: explicit ConceptMaps, then OMOP "Mapped from"."""
    matches = [
        Match(r.equivalence, r.source_system, r.source_code, None, r.url)
        for r in await cat.fhir.map_sources(system, code)
        if target_system is None or r.source_system == target_system
    ]
    try:
        ref = await cat.resolve(system)
    except UnknownSystem:
        if matches:
            return matches
        raise
    if isinstance(ref, OmopSystem):
        concept = await find_concept(cat, ref, code)
        if concept is not None:
            related = await cat.vocab.related([concept.concept_id], [MAPPED_FROM])
            for relationship, source in related[concept.concept_id]:
                if source.concept_id == concept.concept_id:
                    continue
                if target_system is None:
                    system_of_source = system_of(source.vocabulary_id)
                    matches.append(
                        Match(
                            "equivalent",
                            system_of_source,
                            source.concept_code,
                            source.name,
                            f"omop:{relationship}",
                        )
                    )
                else:
                    match = _omop_match(source, relationship, target_system)
                    if match:
                        matches.append(match)
    return matches


async def translate(
    cat: Catalog,
    *,
    system: str,
    code: str,
    target_system: str | None = None,
    url: str | None = None,
) -> list[Match]:
    """Targets of one code: explicit ConceptMaps, then OMOP "Maps to"."""
    matches = [
        Match(r.equivalence, r.target_system, r.target_code, r.target_display, r.url)
        for r in await cat.fhir.map_targets(system, [code], url=url)
        if target_system is None or r.target_system == target_system
    ]
    if url is not None:
        return matches
    try:
        ref = await cat.resolve(system)
    except UnknownSystem:
        if matches:
            return matches
        raise
    if isinstance(ref, OmopSystem):
        concept = await find_concept(cat, ref, code)
        if concept is not None:
            related = await cat.vocab.related([concept.concept_id], [MAPS_TO, MAPS_TO_VALUE])
            for relationship, target in related[concept.concept_id]:
                match = _omop_match(target, relationship, target_system)
                if match:
                    matches.append(match)
    return matches


def _mapped(concept: Concept, relationship: str) -> dict[str, Any]:
    """A :class:`MappedConcept` as a dict: the response is validated once, in pydantic's
    core, rather than model by model (10,000+ per batch)."""
    return {
        "concept_id": concept.concept_id,
        "concept_code": concept.concept_code,
        "vocabulary_id": concept.vocabulary_id,
        "domain_id": concept.domain_id,
        "display": concept.name,
        "relationship": relationship,
    }


async def translate_batch(cat: Catalog, request: TranslateBatchRequest) -> dict[str, Any]:
    """Every code of the request to its standard OMOP concepts, in a few round trips.

    Returns the JSON shape of :class:`TranslateBatchResponse` (built as plain data: the
    per-object cost of models dominates on 10,000 codes; a test validates the shape).
    """
    relationships = [MAPS_TO, MAPS_TO_VALUE] if request.include_value_maps else [MAPS_TO]
    by_system: dict[str, list[str]] = defaultdict(list)
    for item in request.codes:
        by_system[item.system].append(item.code)
    source: dict[tuple[str, str], int] = {}
    explicit: dict[tuple[str, str], list[int]] = defaultdict(list)
    unknown_systems: set[str] = set()
    fhir_codes: set[tuple[str, str]] = set()
    for system, codes in by_system.items():
        for row in await cat.fhir.map_targets(system, codes):
            if row.target_system == OMOP_SYSTEM and row.target_code.isdigit():
                explicit[(system, row.source_code)].append(int(row.target_code))
        if await cat.fhir.get("CodeSystem", system) is not None:
            fhir_codes |= {(system, c) for c in await cat.fhir.known_codes(system, codes)}
            continue
        if cat.release is None:
            if not any(k[0] == system for k in explicit):
                unknown_systems.add(system)
            continue
        vocabulary = None if system == OMOP_SYSTEM else vocabulary_of(system)
        if system == OMOP_SYSTEM:
            found = await cat.vocab.existing_ids([int(c) for c in codes if c.isdigit()])
            source.update({(system, str(i)): i for i in found})
        elif vocabulary is not None and vocabulary in cat.release_vocabularies():
            by_code = await cat.vocab.ids_by_codes(vocabulary, codes)
            source.update({(system, code): i for code, i in by_code.items()})
        elif not any(k[0] == system for k in explicit):
            unknown_systems.add(system)
    ids = sorted(set(source.values()))
    related = await cat.vocab.mapped_targets(ids, relationships) if ids else {}
    explicit_ids = sorted({i for targets in explicit.values() for i in targets})
    explicit_concepts = await cat.vocab.by_ids(explicit_ids) if explicit_ids and cat.release else {}
    results = []
    for item in request.codes:
        key = (item.system, item.code)
        concept_id = source.get(key)
        targets = [
            _mapped(explicit_concepts[i], "ConceptMap")
            for i in explicit.get(key, [])
            if i in explicit_concepts
        ]
        if not targets and concept_id is not None:
            targets = related.get(concept_id, [])
        if targets:
            status = "mapped"
        elif concept_id is not None or key in explicit or key in fhir_codes:
            status = "unmapped"
        elif item.system in unknown_systems:
            status = "unknown-system"
        else:
            status = "unknown-code"
        results.append(
            {
                "system": item.system,
                "code": item.code,
                "status": status,
                "source_concept_id": concept_id,
                "targets": targets,
            }
        )
    release = cat.release
    return {
        "release_id": release.id if release else None,
        "release_label": release.label if release else None,
        "results": results,
    }
