"""ConceptMap/$translate and the batch translate of projections.

Two sources of mappings: explicit FHIR ConceptMaps (a hospital's local codes, checked
first so that they can override) and the OMOP vocabulary's "Maps to" relationships, which
take any source code of a loaded vocabulary to its standard concept(s).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ..adapters.batch_translate import (
    BatchCodes,
    BatchSystem,
    explicit_and_fhir_systems,
    translate_json,
)
from ..domain.concepts import Concept
from ..domain.errors import UnknownSystem
from ..domain.systems import OMOP_SYSTEM, system_of, vocabulary_of
from .catalog import Catalog, OmopSystem
from .lookup import find_concept

__all__ = ["BatchRequest", "Match", "reverse_translate", "translate", "translate_batch"]

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


@dataclass(frozen=True)
class BatchRequest:
    """A :class:`~hygie_contracts.terminology.TranslateBatchRequest` as columns."""

    systems: list[str]
    codes: list[str]
    include_value_maps: bool = False


async def translate_batch(cat: Catalog, request: BatchRequest) -> bytes:
    """Every code of the request to its standard OMOP concepts: the JSON of a
    :class:`TranslateBatchResponse`, built by one statement (a test validates the shape)."""
    relationships = [MAPS_TO, MAPS_TO_VALUE] if request.include_value_maps else [MAPS_TO]
    systems = set(request.systems)
    with_maps, fhir_systems = await explicit_and_fhir_systems(cat.conn, systems, OMOP_SYSTEM)
    release_vocabularies = cat.release_vocabularies()
    kinds: list[BatchSystem] = []
    for system in systems:
        if system in fhir_systems:
            kinds.append(BatchSystem(system, fhir=True, mapped=system in with_maps))
        elif cat.release is None:
            kinds.append(BatchSystem(system, maybe_unknown=True, mapped=system in with_maps))
        elif system == OMOP_SYSTEM:
            kinds.append(BatchSystem(system, by_id=True, mapped=system in with_maps))
        else:
            vocabulary = vocabulary_of(system)
            known = vocabulary is not None and vocabulary in release_vocabularies
            kinds.append(
                BatchSystem(
                    system,
                    vocabulary=vocabulary if known else None,
                    maybe_unknown=not known,
                    mapped=system in with_maps,
                )
            )
    index = {kind.system: i for i, kind in enumerate(kinds)}
    batch = BatchCodes(kinds, request.codes, [index[s] for s in request.systems])
    results = await translate_json(
        cat.conn,
        cat.release.schema if cat.release else None,
        batch,
        relationships=relationships,
        omop_system=OMOP_SYSTEM,
    )
    release = cat.release
    head = orjson.dumps(
        {
            "release_id": release.id if release else None,
            "release_label": release.label if release else None,
        }
    )
    return head[:-1] + b',"results":' + results.encode() + b"}"
