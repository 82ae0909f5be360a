"""OMOP concepts as the operations see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["CONCEPT_COLUMNS", "Concept", "concept_at", "concept_from_row"]


@dataclass(frozen=True)
class Concept:
    concept_id: int
    name: str
    domain_id: str
    vocabulary_id: str
    concept_class_id: str
    standard_concept: str | None
    concept_code: str
    valid_start_date: date
    valid_end_date: date
    invalid_reason: str | None

    @property
    def active(self) -> bool:
        return self.invalid_reason is None

    @property
    def standard(self) -> bool:
        return self.standard_concept == "S"


CONCEPT_COLUMNS = (
    "concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, "
    "concept_code, valid_start_date, valid_end_date, invalid_reason"
)


def concept_at(row: Any, start: int = 0) -> Concept:
    """A concept from the ten columns of ``CONCEPT_COLUMNS`` starting at ``start``
    (positional: mapping access costs too much on large batches)."""
    return Concept(*row[start : start + 10])


def concept_from_row(row: Any, prefix: str = "") -> Concept:
    m = row._mapping if hasattr(row, "_mapping") else row
    return Concept(
        concept_id=m[f"{prefix}concept_id"],
        name=m[f"{prefix}concept_name"],
        domain_id=m[f"{prefix}domain_id"],
        vocabulary_id=m[f"{prefix}vocabulary_id"],
        concept_class_id=m[f"{prefix}concept_class_id"],
        standard_concept=m[f"{prefix}standard_concept"],
        concept_code=m[f"{prefix}concept_code"],
        valid_start_date=m[f"{prefix}valid_start_date"],
        valid_end_date=m[f"{prefix}valid_end_date"],
        invalid_reason=m[f"{prefix}invalid_reason"],
    )
