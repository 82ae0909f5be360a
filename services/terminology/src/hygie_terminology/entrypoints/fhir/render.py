"""FHIR ``Parameters`` answers of the operations."""

from __future__ import annotations

from typing import Any

from ...service.closure import ClosureResult
from ...service.codes import Validation
from ...service.expand import Expansion
from ...service.lookup import LookupResult
from ...service.translate import Match

__all__ = [
    "closure_concept_map",
    "expansion_resource",
    "lookup_parameters",
    "translate_parameters",
    "validation_parameters",
]


def _parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


def lookup_parameters(result: LookupResult) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "name", "valueString": result.name}]
    if result.version:
        out.append({"name": "version", "valueString": result.version})
    if result.display is not None:
        out.append({"name": "display", "valueString": result.display})
    for d in result.designations:
        part: list[dict[str, Any]] = [{"name": "value", "valueString": d.value}]
        if d.language:
            part.insert(0, {"name": "language", "valueCode": d.language})
        out.append({"name": "designation", "part": part})
    for p in result.properties:
        out.append(
            {
                "name": "property",
                "part": [{"name": "code", "valueCode": p.code}, {"name": "value", p.kind: p.value}],
            }
        )
    return _parameters(*out)


def validation_parameters(v: Validation) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "result", "valueBoolean": v.result}]
    if v.message:
        out.append({"name": "message", "valueString": v.message})
    if v.display:
        out.append({"name": "display", "valueString": v.display})
    return _parameters(*out)


def translate_parameters(matches: list[Match]) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "result", "valueBoolean": bool(matches)}]
    if not matches:
        out.append({"name": "message", "valueString": "no mapping found"})
    for m in matches:
        concept = {"system": m.system, "code": m.code}
        if m.display:
            concept["display"] = m.display
        out.append(
            {
                "name": "match",
                "part": [
                    {"name": "equivalence", "valueCode": m.equivalence},
                    {"name": "concept", "valueCoding": concept},
                    {"name": "source", "valueUri": m.source},
                ],
            }
        )
    return _parameters(*out)


def expansion_resource(exp: Expansion, *, identifier: str) -> dict[str, Any]:
    contains = []
    for item in exp.items:
        entry: dict[str, Any] = {"system": item.system, "code": item.code}
        if item.display is not None:
            entry["display"] = item.display
        if item.inactive:
            entry["inactive"] = True
        contains.append(entry)
    resource: dict[str, Any] = {
        "resourceType": "ValueSet",
        "status": "active",
        "expansion": {
            "identifier": identifier,
            "timestamp": None,
            "total": exp.total,
            "offset": exp.offset,
            "contains": contains,
        },
    }
    if exp.definition.url:
        resource["url"] = exp.definition.url
    if exp.definition.version:
        resource["version"] = exp.definition.version
    return resource


def closure_concept_map(result: ClosureResult) -> dict[str, Any]:
    """$closure's answer: per system, each descendant with the ancestors that subsume it."""
    groups: dict[str, dict[str, list[str]]] = {}
    for system, descendant, ancestor in result.entries:
        groups.setdefault(system, {}).setdefault(descendant, []).append(ancestor)
    return {
        "resourceType": "ConceptMap",
        "name": result.name,
        "version": str(result.version),
        "status": "active",
        "group": [
            {
                "source": system,
                "target": system,
                "element": [
                    {
                        "code": code,
                        "target": [{"code": a, "equivalence": "subsumes"} for a in ancestors],
                    }
                    for code, ancestors in elements.items()
                ],
            }
            for system, elements in groups.items()
        ],
    }
