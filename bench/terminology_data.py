"""Synthetic Athena-shaped vocabulary files for the terminology benchmark
(``bench/terminology.py`` says what they hold)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

TREE = 50_000  # standard concepts per is-a tree
SYN = "https://hygie.health/fhir/omop-vocabulary/SYN"
SRC = "https://hygie.health/fhir/omop-vocabulary/SRC"
HEADERS = {
    "CONCEPT.csv": "concept_id concept_name domain_id vocabulary_id concept_class_id "
    "standard_concept concept_code valid_start_date valid_end_date invalid_reason",
    "CONCEPT_RELATIONSHIP.csv": "concept_id_1 concept_id_2 relationship_id valid_start_date "
    "valid_end_date invalid_reason",
    "CONCEPT_ANCESTOR.csv": "ancestor_concept_id descendant_concept_id "
    "min_levels_of_separation max_levels_of_separation",
    "CONCEPT_SYNONYM.csv": "concept_id concept_synonym_name language_concept_id",
    "VOCABULARY.csv": "vocabulary_id vocabulary_name vocabulary_reference vocabulary_version "
    "vocabulary_concept_id",
    "DOMAIN.csv": "domain_id domain_name domain_concept_id",
    "CONCEPT_CLASS.csv": "concept_class_id concept_class_name concept_class_concept_id",
    "RELATIONSHIP.csv": "relationship_id relationship_name is_hierarchical defines_ancestry "
    "reverse_relationship_id relationship_concept_id",
}
DOMAINS = ("Condition", "Measurement", "Procedure", "Observation", "Drug")
RELATIONSHIPS = (
    ("Is a", "Subsumes", "1"),
    ("Subsumes", "Is a", "1"),
    ("Maps to", "Mapped from", "0"),
    ("Mapped from", "Maps to", "0"),
    ("Has finding site", "Finding site of", "0"),
    ("Finding site of", "Has finding site", "0"),
)


# -- the synthetic vocabulary -----------------------------------------------------------
# Concept ids 1..N; id % 5 == 0 is a source code, the others are standard. Standard
# concept k (0-based) has id k + k // 4 + 1; trees of TREE standard concepts, node j of a
# tree has parent j // 50 (j ≥ 1), so depth ≤ 3.


def std_id(k: int) -> int:
    return k + k // 4 + 1


def std_index(concept_id: int) -> int:
    return concept_id - 1 - (concept_id - 1) // 5


def maps_to(concept_id: int, standard: int) -> int | None:
    """The standard concept a source code maps to (None for one source code in five)."""
    if concept_id % 25 == 0:
        return None
    return std_id((concept_id * 7919) % standard)


def _tree_ancestors(k: int) -> list[tuple[int, int]]:
    """(ancestor standard index, levels) of standard concept k, itself included."""
    base, j = k - k % TREE, k % TREE
    out, level = [(k, 0)], 0
    while j:
        j //= 50
        level += 1
        out.append((base + j, level))
    return out


def generate(directory: Path, concepts: int, relationships: int) -> dict[str, int]:
    """Write the vocabulary; return the row count of each file."""
    directory.mkdir(parents=True, exist_ok=True)
    standard = concepts - concepts // 5
    english, french = concepts + 1, concepts + 2
    counts: dict[str, int] = {}

    def write(name: str, rows: Any) -> None:
        n = 0
        with (directory / name).open("w", encoding="utf-8") as f:
            f.write(HEADERS[name].replace(" ", "\t") + "\n")
            buf: list[str] = []
            for row in rows:
                buf.append(row)
                if len(buf) >= 50_000:
                    f.write("".join(buf))
                    n += len(buf)
                    buf.clear()
            f.write("".join(buf))
            counts[name] = n + len(buf)

    def concept_rows() -> Any:
        dates = "\t19700101\t20991231\t\n"
        for i in range(1, concepts + 1):
            domain = DOMAINS[i % 5 if i % 5 else (i // 5) % 5]
            if i % 5:
                yield f"{i}\tSynthetic concept {i}\t{domain}\tSYN\tClinical Finding\tS\tC{i}{dates}"
            else:
                yield f"{i}\tSource code {i}\t{domain}\tSRC\tSource Code\t\tS{i}{dates}"
        yield f"{english}\tEnglish language\tLanguage\tLanguage\tQualifier Value\t\tEN{dates}"
        yield f"{french}\tFrench language\tLanguage\tLanguage\tQualifier Value\t\tFR{dates}"

    # Relationship rows besides the hierarchy and the mappings, spread over the concepts.
    fixed = 4 * standard - 2 * (-(-standard // TREE))
    fixed += 2 * sum(1 for i in range(5, concepts + 1, 5) if maps_to(i, standard))
    filler_pairs = max(0, relationships - fixed) // 2
    rnd = random.Random(7)

    def relationship_rows() -> Any:
        tail = "\t19700101\t20991231\t\n"
        for i in range(1, concepts + 1):
            if i % 5:
                k = std_index(i)
                yield f"{i}\t{i}\tMaps to{tail}"
                yield f"{i}\t{i}\tMapped from{tail}"
                if k % TREE:
                    parent = std_id(k - k % TREE + (k % TREE) // 50)
                    yield f"{i}\t{parent}\tIs a{tail}"
                    yield f"{parent}\t{i}\tSubsumes{tail}"
            else:
                target = maps_to(i, standard)
                if target is not None:
                    yield f"{i}\t{target}\tMaps to{tail}"
                    yield f"{target}\t{i}\tMapped from{tail}"
            for _ in range((i * filler_pairs) // concepts - ((i - 1) * filler_pairs) // concepts):
                site = std_id(rnd.randrange(standard))
                yield f"{i}\t{site}\tHas finding site{tail}"
                yield f"{site}\t{i}\tFinding site of{tail}"

    def ancestor_rows() -> Any:
        for k in range(standard):
            for a, level in _tree_ancestors(k):
                yield f"{std_id(a)}\t{std_id(k)}\t{level}\t{level}\n"

    def synonym_rows() -> Any:
        for i in range(2, concepts + 1, 2):
            if i % 10 == 2:
                yield f"{i}\tConcept synthétique {i}\t{french}\n"
            else:
                yield f"{i}\tSynthetic concept number {i}\t{english}\n"

    write("CONCEPT.csv", concept_rows())
    write("CONCEPT_RELATIONSHIP.csv", relationship_rows())
    write("CONCEPT_ANCESTOR.csv", ancestor_rows())
    write("CONCEPT_SYNONYM.csv", synonym_rows())
    write(
        "VOCABULARY.csv",
        iter(
            [
                "None\tOMOP Standardized Vocabularies\tbench\tbench-v1\t0\n",
                "SYN\tSynthetic standard\tbench\tSYN 1.0\t0\n",
                "SRC\tSynthetic source\tbench\tSRC 1.0\t0\n",
                "Language\tLanguages\tbench\t\t0\n",
            ]
        ),
    )
    write("DOMAIN.csv", (f"{d}\t{d}\t0\n" for d in (*DOMAINS, "Language")))
    write(
        "CONCEPT_CLASS.csv",
        (f"{c}\t{c}\t0\n" for c in ("Clinical Finding", "Source Code", "Qualifier Value")),
    )
    write(
        "RELATIONSHIP.csv",
        (f"{r}\t{r}\t{h}\t{h}\t{rev}\t0\n" for r, rev, h in RELATIONSHIPS),
    )
    return counts
