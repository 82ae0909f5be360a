"""The OMOP vocabulary tables as delivered by Athena (CDM 5.4 vocabulary tables).

Two dialects exist: Athena's own export (tab-separated, unquoted, dates ``YYYYMMDD``) and
the comma-separated, quoted, ISO-date variant of OHDSI example data (Eunomia). PostgreSQL
reads both date forms natively, so rows are streamed to COPY untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["TABLES", "Column", "Dialect", "TableSpec", "detect_dialect", "table_by_name"]

Dialect = Literal["tab", "comma"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # PostgreSQL type
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    """One vocabulary table: its file, columns (CDM 5.4 order) and the indexes queries need
    (each ``(columns) [INCLUDE (columns)]``)."""

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    required_file: bool = True

    @property
    def file_name(self) -> str:
        return f"{self.name.upper()}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, type_: str = "text", required: bool = True) -> Column:
    return Column(name, type_, required)


#: Codes compare byte by byte: no locale rules to apply on every index probe (a code is
#: an identifier; "C" orders like C.UTF-8, by code point).
_BYTEWISE = 'text COLLATE "C"'
_DATES = (_c("valid_start_date", "date"), _c("valid_end_date", "date"))

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "vocabulary",
        (
            _c("vocabulary_id"),
            _c("vocabulary_name"),
            _c("vocabulary_reference", required=False),
            _c("vocabulary_version", required=False),
            _c("vocabulary_concept_id", "integer"),
        ),
        primary_key=("vocabulary_id",),
    ),
    TableSpec(
        "domain",
        (_c("domain_id"), _c("domain_name"), _c("domain_concept_id", "integer")),
        primary_key=("domain_id",),
    ),
    TableSpec(
        "concept_class",
        (
            _c("concept_class_id"),
            _c("concept_class_name"),
            _c("concept_class_concept_id", "integer"),
        ),
        primary_key=("concept_class_id",),
    ),
    TableSpec(
        "relationship",
        (
            _c("relationship_id"),
            _c("relationship_name"),
            _c("is_hierarchical"),
            _c("defines_ancestry"),
            _c("reverse_relationship_id"),
            _c("relationship_concept_id", "integer"),
        ),
        primary_key=("relationship_id",),
    ),
    TableSpec(
        "concept",
        (
            _c("concept_id", "integer"),
            _c("concept_name"),
            _c("domain_id"),
            _c("vocabulary_id", _BYTEWISE),
            _c("concept_class_id"),
            _c("standard_concept", required=False),
            _c("concept_code", _BYTEWISE),
            *_DATES,
            _c("invalid_reason", required=False),
        ),
        primary_key=("concept_id",),
        # Key order of "a valid concept first when a code was reused": index-only lookups.
        indexes=(
            "(vocabulary_id, concept_code, invalid_reason NULLS FIRST, valid_end_date DESC) "
            "INCLUDE (concept_id)",
        ),
    ),
    TableSpec(
        "concept_synonym",
        (
            _c("concept_id", "integer"),
            _c("concept_synonym_name"),
            _c("language_concept_id", "integer"),
        ),
        indexes=("(concept_id)",),
    ),
    TableSpec(
        "concept_relationship",
        (
            _c("concept_id_1", "integer"),
            _c("concept_id_2", "integer"),
            _c("relationship_id"),
            *_DATES,
            _c("invalid_reason", required=False),
        ),
        indexes=("(concept_id_1, relationship_id, concept_id_2) INCLUDE (invalid_reason)",),
    ),
    TableSpec(
        "concept_ancestor",
        (
            _c("ancestor_concept_id", "integer"),
            _c("descendant_concept_id", "integer"),
            _c("min_levels_of_separation", "integer"),
            _c("max_levels_of_separation", "integer"),
        ),
        indexes=("(ancestor_concept_id, descendant_concept_id)", "(descendant_concept_id)"),
    ),
    TableSpec(
        "drug_strength",
        (
            _c("drug_concept_id", "integer"),
            _c("ingredient_concept_id", "integer"),
            _c("amount_value", "numeric", required=False),
            _c("amount_unit_concept_id", "integer", required=False),
            _c("numerator_value", "numeric", required=False),
            _c("numerator_unit_concept_id", "integer", required=False),
            _c("denominator_value", "numeric", required=False),
            _c("denominator_unit_concept_id", "integer", required=False),
            _c("box_size", "integer", required=False),
            *_DATES,
            _c("invalid_reason", required=False),
        ),
        indexes=("(drug_concept_id)",),
        required_file=False,
    ),
)

#: Foreign keys to CONCEPT checked before a release is accepted: (table, column).
CONCEPT_REFERENCES: tuple[tuple[str, str], ...] = (
    ("concept_synonym", "concept_id"),
    ("concept_relationship", "concept_id_1"),
    ("concept_relationship", "concept_id_2"),
    ("concept_ancestor", "ancestor_concept_id"),
    ("concept_ancestor", "descendant_concept_id"),
    ("drug_strength", "drug_concept_id"),
    ("drug_strength", "ingredient_concept_id"),
)


def table_by_name(name: str) -> TableSpec:
    return next(t for t in TABLES if t.name == name)


def detect_dialect(header_line: str) -> Dialect:
    """Athena exports are tab-separated; OHDSI example data is comma-separated."""
    return "tab" if "\t" in header_line else "comma"
