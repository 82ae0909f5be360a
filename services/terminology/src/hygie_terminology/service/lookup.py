"""CodeSystem/$lookup (FHIR R4): display, designations, properties, parents and children."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from ..adapters.read_pool import ReadPool
from ..adapters.releases import ACTIVE_RELEASE_SQL, Release, release_from
from ..adapters.vocabulary import IS_A, SUBSUMES, Details, concept_details
from ..domain.concepts import Concept
from ..domain.errors import NotFound
from ..domain.languages import language_code
from ..domain.systems import OMOP_SYSTEM
from .catalog import ActiveReleaseCache, Catalog, FhirSystem, OmopSystem, omop_system_of

__all__ = [
    "Designation",
    "LookupResult",
    "Property",
    "fast_lookup",
    "find_concept",
    "lookup",
    "omop_result",
]


@dataclass(frozen=True)
class Designation:
    value: str
    language: str | None = None


@dataclass(frozen=True)
class Property:
    code: str
    value: Any
    kind: str  # valueCode, valueString, valueInteger, valueBoolean, valueCoding, valueDateTime


@dataclass
class LookupResult:
    system: str
    code: str
    name: str
    version: str | None
    display: str | None
    designations: list[Designation] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)


def code_of(concept: Concept, ref: OmopSystem) -> str:
    """The code of a concept in the system a request uses."""
    return str(concept.concept_id) if ref.vocabulary_id is None else concept.concept_code


async def find_concept(cat: Catalog, ref: OmopSystem, code: str) -> Concept | None:
    if ref.vocabulary_id is None:
        return await cat.vocab.by_id(int(code)) if code.isdigit() else None
    return await cat.vocab.by_code(ref.vocabulary_id, code)


LOOKUP_RELATIONSHIPS = (IS_A, SUBSUMES, "Maps to")


async def _omop(cat: Catalog, ref: OmopSystem, code: str) -> LookupResult:
    found = await cat.vocab.details(
        vocabulary_id=ref.vocabulary_id, code=code, relationships=LOOKUP_RELATIONSHIPS
    )
    assert cat.release is not None
    return omop_result(cat.release, ref, code, found)


async def fast_lookup(
    pool: ReadPool,
    cache: ActiveReleaseCache,
    *,
    system: str,
    code: str,
    version: str | None = None,
) -> LookupResult | None:
    """$lookup of a code of the active OMOP release in one round trip; None when the
    request needs the general path (a FHIR CodeSystem, an unknown system or version)."""
    release = await cache.get_via(lambda: _active(pool))
    if release is None:
        return None
    ref = omop_system_of(release, system, version)
    if ref is None:
        return None
    found = await concept_details(
        pool.fetchrow,
        release.schema,
        vocabulary_id=ref.vocabulary_id,
        code=code,
        relationships=LOOKUP_RELATIONSHIPS,
    )
    return omop_result(release, ref, code, found)


async def _active(pool: ReadPool) -> Release | None:
    return release_from(await pool.fetchrow(ACTIVE_RELEASE_SQL))


def omop_result(
    release: Release, ref: OmopSystem, code: str, found: Details | None
) -> LookupResult:
    """The $lookup answer for a concept of an OMOP release (NotFound when absent)."""
    if found is None:
        raise NotFound(f"code {code!r} is not in {ref.system}")
    concept, synonyms, related = found
    version = (
        next(
            (v["version"] for v in release.vocabularies if v["vocabulary_id"] == ref.vocabulary_id),
            None,
        )
        or release.label
    )
    result = LookupResult(
        system=ref.system,
        code=code,
        name=ref.vocabulary_id or "OMOP",
        version=version,
        display=concept.name,
        designations=[Designation(value, language_code(lang)) for value, lang in synonyms],
    )
    props = result.properties
    props += [
        Property("concept_id", concept.concept_id, "valueInteger"),
        Property("domain_id", concept.domain_id, "valueString"),
        Property("vocabulary_id", concept.vocabulary_id, "valueString"),
        Property("concept_class_id", concept.concept_class_id, "valueString"),
        Property("valid_start_date", concept.valid_start_date.isoformat(), "valueDateTime"),
        Property("valid_end_date", concept.valid_end_date.isoformat(), "valueDateTime"),
        Property("inactive", not concept.active, "valueBoolean"),
    ]
    if concept.standard_concept:
        props.append(Property("standard_concept", concept.standard_concept, "valueCode"))
    if concept.invalid_reason:
        props.append(Property("invalid_reason", concept.invalid_reason, "valueCode"))
    for relationship, other in related:
        if relationship == "Maps to":
            props.append(
                Property(
                    "maps-to",
                    {"system": OMOP_SYSTEM, "code": str(other.concept_id), "display": other.name},
                    "valueCoding",
                )
            )
        elif ref.vocabulary_id is None or other.vocabulary_id == ref.vocabulary_id:
            name = "parent" if relationship == IS_A else "child"
            props.append(Property(name, code_of(other, ref), "valueCode"))
    return result


async def _fhir(cat: Catalog, ref: FhirSystem, code: str) -> LookupResult:
    concept = await cat.fhir.concept(ref.system, ref.version, code)
    if concept is None:
        raise NotFound(f"code {code!r} is not in {ref.system}|{ref.version}")
    result = LookupResult(
        system=ref.system,
        code=code,
        name=ref.name or ref.system,
        version=ref.version or None,
        display=concept.display,
        designations=[
            Designation(d["value"], d.get("language")) for d in concept.designations if "value" in d
        ],
    )
    for prop in concept.properties:
        kind = next((k for k in prop if k.startswith("value")), None)
        if kind and "code" in prop:
            result.properties.append(Property(prop["code"], prop[kind], kind))
    result.properties += [Property("parent", p, "valueCode") for p in concept.parents]
    result.properties += [
        Property("child", c, "valueCode")
        for c in await cat.fhir.children(ref.system, ref.version, code)
    ]
    return result


async def lookup(
    cat: Catalog, *, system: str, code: str, version: str | None = None
) -> LookupResult:
    """Details of a code (NotFound for an unknown code, UnknownSystem for a system)."""
    ref = await cat.resolve(system, version)
    if isinstance(ref, OmopSystem):
        return await _omop(cat, ref, code)
    return await _fhir(cat, ref, code)


async def display_in(cat: Catalog, concept_ids: list[int], language: str) -> dict[int, str]:
    """Synonyms of concepts in a language (for ``displayLanguage``)."""
    if not concept_ids or cat.release is None:
        return {}
    rows = await cat.conn.execute(
        text(
            f"SELECT s.concept_id, s.concept_synonym_name, l.concept_name "
            f"FROM {cat.release.schema}.concept_synonym s JOIN {cat.release.schema}.concept l "
            "ON l.concept_id = s.language_concept_id "
            "WHERE s.concept_id = ANY(CAST(:ids AS integer[])) ORDER BY s.concept_synonym_name"
        ),
        {"ids": concept_ids},
    )
    out: dict[int, str] = {}
    for concept_id, name, lang in rows:
        if language_code(lang) == language.split("-")[0].lower():
            out.setdefault(concept_id, name)
    return out
