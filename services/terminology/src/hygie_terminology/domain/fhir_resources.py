"""Reading FHIR CodeSystem, ValueSet and ConceptMap resources (R4) into what is stored:
the resource itself, CodeSystem concepts flattened with their parents, ConceptMap elements
as rows. Pure: problems are returned, never raised half-way."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .valueset import InvalidValueSet, parse_compose

__all__ = ["ParsedResource", "parse_resource", "resources_of"]

TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
#: R5 ConceptMap relationship -> R4 equivalence
_RELATIONSHIP = {
    "related-to": "relatedto",
    "equivalent": "equivalent",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "unmatched",
}


@dataclass
class ParsedResource:
    resource: dict[str, Any]
    version: str
    concepts: list[dict[str, Any]] = field(default_factory=list)
    map_rows: list[dict[str, Any]] = field(default_factory=list)
    systems_used: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource['url']}|{self.version}"


def resources_of(document: Any) -> Iterator[dict[str, Any]]:
    """The resources of a JSON document: itself, or the entries of a Bundle."""
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        for entry in document.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield entry["resource"]
    elif isinstance(document, dict):
        yield document


def _flatten(concepts: list[dict[str, Any]], parents: list[str], out: list[dict[str, Any]]) -> None:
    for c in concepts:
        code = c.get("code")
        if not isinstance(code, str) or not code:
            continue
        props = [p for p in c.get("property") or [] if isinstance(p, dict)]
        declared = [p.get("valueCode") for p in props if p.get("code") == "parent"]
        out.append(
            {
                "code": code,
                "display": c.get("display"),
                "definition": c.get("definition"),
                "parents": sorted({*parents, *(d for d in declared if d)}),
                "designations": c.get("designation") or [],
                "properties": [p for p in props if p.get("code") not in ("parent", "child")],
            }
        )
        _flatten(c.get("concept") or [], [code], out)


def parse_resource(resource: dict[str, Any], where: str) -> tuple[ParsedResource | None, list[str]]:
    """A resource ready to store, or the reasons it cannot be."""
    rtype = resource.get("resourceType")
    if rtype not in TYPES:
        return None, [f"{where}: resourceType {rtype!r} is not one of {', '.join(TYPES)}"]
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        return None, [f"{where}: {rtype}.url is required"]
    version = str(resource.get("version") or "")
    resource = dict(resource)
    if not _ID.match(str(resource.get("id") or "")):
        digest = hashlib.sha256(f"{url}|{version}".encode()).hexdigest()[:16]
        resource["id"] = f"{rtype.lower()}-{digest}"
    parsed = ParsedResource(resource, version)
    problems: list[str] = []
    if rtype == "CodeSystem":
        _flatten(resource.get("concept") or [], [], parsed.concepts)
        codes = [c["code"] for c in parsed.concepts]
        if len(codes) != len(set(codes)):
            problems.append(f"{where}: CodeSystem {url} repeats a code")
    elif rtype == "ValueSet":
        try:
            definition = parse_compose(resource)
            parsed.systems_used |= {
                i.system for i in definition.includes + definition.excludes if i.system
            }
        except InvalidValueSet as exc:
            problems.append(f"{where}: {exc}")
    else:
        for g, group in enumerate(resource.get("group") or []):
            source, target = group.get("source"), group.get("target")
            if not source:
                problems.append(f"{where}: ConceptMap.group[{g}].source is required")
                continue
            parsed.systems_used.add(source)
            if target:
                parsed.systems_used.add(target)
            for element in group.get("element") or []:
                for t in element.get("target") or [{"equivalence": "unmatched"}]:
                    equivalence = t.get("equivalence") or _RELATIONSHIP.get(
                        t.get("relationship", ""), "equivalent"
                    )
                    parsed.map_rows.append(
                        {
                            "url": url,
                            "source_system": source,
                            "source_code": str(element.get("code") or ""),
                            "target_system": target or "",
                            "target_code": str(t.get("code") or ""),
                            "target_display": t.get("display"),
                            "equivalence": equivalence,
                        }
                    )
        if any(not r["source_code"] for r in parsed.map_rows):
            problems.append(f"{where}: every ConceptMap.group.element needs a code")
    return (None if problems else parsed), problems
