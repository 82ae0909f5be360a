"""FHIR code system URIs of OMOP vocabularies (FHIR R4 "Using codes in resources" §4.2;
HL7 Terminology (UTG) for the OHDSI URI).

A vocabulary without a published URI is addressed as ``VOCABULARY_BASE + vocabulary_id``;
every OMOP concept is also addressable by its concept id in ``OMOP_SYSTEM``.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from hygie_contracts.terminology import OMOP_SYSTEM

__all__ = ["OMOP_SYSTEM", "VOCABULARY_BASE", "system_of", "vocabulary_of"]

VOCABULARY_BASE = "https://hygie.health/fhir/omop-vocabulary/"

_KNOWN: dict[str, str] = {
    "SNOMED": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "UCUM": "http://unitsofmeasure.org",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD9CM": "http://hl7.org/fhir/sid/icd-9-cm",
    "CPT4": "http://www.ama-assn.org/go/cpt",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "ATC": "http://www.whocc.no/atc",
}
_BY_SYSTEM = {uri: vocab for vocab, uri in _KNOWN.items()}


def system_of(vocabulary_id: str) -> str:
    """The FHIR system URI of an OMOP vocabulary."""
    return _KNOWN.get(vocabulary_id) or VOCABULARY_BASE + quote(vocabulary_id, safe="")


def vocabulary_of(system: str) -> str | None:
    """The OMOP vocabulary of a FHIR system URI (or of a bare ``vocabulary_id``);
    None for the OMOP concept-id system and for URIs that name no vocabulary."""
    if system == OMOP_SYSTEM:
        return None
    if system in _BY_SYSTEM:
        return _BY_SYSTEM[system]
    if system.startswith(VOCABULARY_BASE):
        return unquote(system[len(VOCABULARY_BASE) :]) or None
    if "/" not in system and ":" not in system:
        return system  # a bare OMOP vocabulary_id ("LOINC", "CIM10")
    return None
