"""FHIR Bundles and Parameters built by the read operations."""

from __future__ import annotations

from typing import Any

from ...domain.golden import GoldenRecord
from .render import golden_resource

__all__ = ["searchset"]


def searchset(
    base: str, patients: list[GoldenRecord], *, scores: list[tuple[float, str]] | None = None
) -> dict[str, Any]:
    """A ``searchset`` Bundle; with scores, the ITI-119 match grades (best first)."""
    entries = []
    for i, g in enumerate(patients):
        entry: dict[str, Any] = {
            "fullUrl": f"{base}/Patient/{g.id}",
            "resource": golden_resource(g),
            "search": {"mode": "match"},
        }
        if scores is not None:
            score, grade = scores[i]
            entry["search"]["score"] = round(score, 4)
            entry["search"]["extension"] = [
                {"url": "http://hl7.org/fhir/StructureDefinition/match-grade", "valueCode": grade}
            ]
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
