"""Small vocabularies written in Athena's own format (tab-separated, unquoted, YYYYMMDD)
for loader tests. The concepts are taken from the conformance vocabulary (ids, codes and
names as in vocab-synthea27nj/CONCEPT.csv)."""

from __future__ import annotations

from pathlib import Path

HEADERS = {
    "CONCEPT.csv": "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\t"
    "standard_concept\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason",
    "CONCEPT_RELATIONSHIP.csv": "concept_id_1\tconcept_id_2\trelationship_id\t"
    "valid_start_date\tvalid_end_date\tinvalid_reason",
    "CONCEPT_ANCESTOR.csv": "ancestor_concept_id\tdescendant_concept_id\t"
    "min_levels_of_separation\tmax_levels_of_separation",
    "CONCEPT_SYNONYM.csv": "concept_id\tconcept_synonym_name\tlanguage_concept_id",
    "VOCABULARY.csv": "vocabulary_id\tvocabulary_name\tvocabulary_reference\t"
    "vocabulary_version\tvocabulary_concept_id",
    "DOMAIN.csv": "domain_id\tdomain_name\tdomain_concept_id",
    "CONCEPT_CLASS.csv": "concept_class_id\tconcept_class_name\tconcept_class_concept_id",
    "RELATIONSHIP.csv": "relationship_id\trelationship_name\tis_hierarchical\t"
    "defines_ancestry\treverse_relationship_id\trelationship_concept_id",
    "DRUG_STRENGTH.csv": "drug_concept_id\tingredient_concept_id\tamount_value\t"
    "amount_unit_concept_id\tnumerator_value\tnumerator_unit_concept_id\tdenominator_value\t"
    "denominator_unit_concept_id\tbox_size\tvalid_start_date\tvalid_end_date\tinvalid_reason",
}

_DATES_LOINC = ("19960906", "20991231", "")
CONCEPTS = [
    "\t".join(row)
    for row in (
        (
            "3004249",
            "Systolic blood pressure",
            "Measurement",
            "LOINC",
            "Clinical Observation",
            "S",
            "8480-6",
            *_DATES_LOINC,
        ),
        (
            "3027018",
            "Heart rate",
            "Measurement",
            "LOINC",
            "Clinical Observation",
            "S",
            "8867-4",
            "19700101",
            "20991231",
            "",
        ),
        (
            "22253000",
            "Pain",
            "Condition",
            "SNOMED",
            "Clinical Finding",
            "S",
            "22253000",
            "20020131",
            "20991231",
            "",
        ),
        (
            "82423001",
            'Chronic "pain"',
            "Condition",
            "SNOMED",
            "Clinical Finding",
            "S",
            "82423001",
            "20020131",
            "20991231",
            "",
        ),
        (
            "8700",
            "Milligram per day",
            "Unit",
            "UCUM",
            "Unit",
            "",
            "mg/d",
            "19700101",
            "20991231",
            "",
        ),
        (
            "8909",
            "milligram per 24 hours",
            "Unit",
            "UCUM",
            "Unit",
            "S",
            "mg/(24.h)",
            "19700101",
            "20991231",
            "",
        ),
    )
]
RELATIONSHIPS = [
    "8700\t8909\tMaps to\t19700101\t20991231\t",
    "82423001\t22253000\tIs a\t20020131\t20991231\t",
    "22253000\t82423001\tSubsumes\t20020131\t20991231\t",
]
ANCESTORS = ["22253000\t22253000\t0\t0", "22253000\t82423001\t1\t1", "82423001\t82423001\t0\t0"]


def write_vocabulary(
    directory: Path,
    *,
    concepts: list[str] | None = None,
    relationships: list[str] | None = None,
    ancestors: list[str] | None = None,
    skip: tuple[str, ...] = (),
) -> Path:
    """Write an Athena-format vocabulary into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = {
        "CONCEPT.csv": CONCEPTS if concepts is None else concepts,
        "CONCEPT_RELATIONSHIP.csv": RELATIONSHIPS if relationships is None else relationships,
        "CONCEPT_ANCESTOR.csv": ANCESTORS if ancestors is None else ancestors,
        "VOCABULARY.csv": ["None\tOMOP Standardized Vocabularies\tOMOP generated\ttest-v1\t0"],
    }
    for name, header in HEADERS.items():
        if name in skip:
            continue
        lines = [header, *rows.get(name, [])]
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory
