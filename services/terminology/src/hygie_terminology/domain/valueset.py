"""ValueSet definitions as the expansion engine needs them (FHIR R4 ValueSet.compose), and
implicit value sets of a code system (``<system>?fhir_vs``, ``<system>?fhir_vs=isa/<code>``,
FHIR R4 "Implicit value sets" of SNOMED CT/LOINC, applied to every vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Filter", "Include", "ValueSetDefinition", "implicit_value_set", "parse_compose"]

OPERATORS = frozenset({"is-a", "descendent-of", "=", "regex", "in", "is-not-a"})


class InvalidValueSet(ValueError):
    """The ValueSet definition uses something this server cannot evaluate."""


@dataclass(frozen=True)
class Filter:
    property: str
    op: str
    value: str


@dataclass(frozen=True)
class Include:
    """One include/exclude: codes of ``system`` (all, listed, or filtered), intersected
    with the members of ``value_sets`` (FHIR R4 ValueSet.compose.include)."""

    system: str | None
    version: str | None = None
    concepts: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    value_sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValueSetDefinition:
    url: str
    version: str | None = None
    includes: tuple[Include, ...] = ()
    excludes: tuple[Include, ...] = field(default=())
    name: str | None = None


def _include(item: dict[str, Any], where: str) -> Include:
    value_sets = tuple(str(v) for v in item.get("valueSet") or [])
    system = item.get("system")
    if system is not None and (not isinstance(system, str) or not system):
        raise InvalidValueSet(f"{where}.system must be a URI")
    if system is None and not value_sets:
        raise InvalidValueSet(f"{where}: a system or a valueSet is required")
    if system is None and (item.get("concept") or item.get("filter")):
        raise InvalidValueSet(f"{where}: concept and filter need a system")
    filters = []
    for j, f in enumerate(item.get("filter") or []):
        op = f.get("op")
        if op not in OPERATORS:
            raise InvalidValueSet(f"{where}.filter[{j}].op {op!r} is not supported")
        prop, value = f.get("property"), f.get("value")
        if not prop or value is None:
            raise InvalidValueSet(f"{where}.filter[{j}] needs property and value")
        filters.append(Filter(str(prop), op, str(value)))
    concepts = tuple(str(c["code"]) for c in item.get("concept") or [] if c.get("code"))
    return Include(system, item.get("version"), concepts, tuple(filters), value_sets)


def parse_compose(resource: dict[str, Any]) -> ValueSetDefinition:
    """The definition of a ValueSet resource (its ``compose``)."""
    compose = resource.get("compose") or {}
    includes = tuple(
        _include(item, f"ValueSet.compose.include[{i}]")
        for i, item in enumerate(compose.get("include") or [])
    )
    if not includes:
        raise InvalidValueSet("ValueSet.compose.include: at least one include is required")
    excludes = tuple(
        _include(item, f"ValueSet.compose.exclude[{i}]")
        for i, item in enumerate(compose.get("exclude") or [])
    )
    return ValueSetDefinition(
        url=resource.get("url") or "",
        version=resource.get("version"),
        includes=includes,
        excludes=excludes,
        name=resource.get("name"),
    )


def implicit_value_set(url: str) -> ValueSetDefinition | None:
    """``<system>?fhir_vs`` (every code) or ``<system>?fhir_vs=isa/<code>``."""
    system, sep, query = url.partition("?")
    if not sep or not query.startswith("fhir_vs"):
        return None
    rest = query[len("fhir_vs") :]
    if rest == "":
        return ValueSetDefinition(url=url, includes=(Include(system),))
    if rest.startswith("=isa/") and len(rest) > len("=isa/"):
        code = rest[len("=isa/") :]
        return ValueSetDefinition(
            url=url, includes=(Include(system, filters=(Filter("concept", "is-a", code),)),)
        )
    raise InvalidValueSet(f"implicit value set {url!r}: only ?fhir_vs and ?fhir_vs=isa/<code>")
