"""SQL of a ValueSet expansion: one SELECT per include (OMOP release or FHIR CodeSystem),
UNION of includes, EXCEPT the excludes, paged; rows are (system, code, display,
concept_id, inactive)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExpansionQuery", "UnsupportedFilter"]

#: OMOP concept columns a ``=``/``in`` filter may name.
OMOP_PROPERTIES = frozenset(
    {"domain_id", "concept_class_id", "standard_concept", "vocabulary_id", "invalid_reason"}
)


class UnsupportedFilter(ValueError):
    """A filter property/operator this server cannot evaluate."""


@dataclass
class ExpansionQuery:
    """Accumulates the parts and parameters of an expansion query."""

    params: dict[str, Any] = field(default_factory=dict)
    _n: int = 0

    def bind(self, value: Any) -> str:
        self._n += 1
        name = f"p{self._n}"
        self.params[name] = value
        return f":{name}"

    def omop_select(
        self,
        *,
        schema: str,
        system: str,
        vocabulary_id: str | None,
        concepts: tuple[str, ...],
        conditions: list[str],
    ) -> str:
        code = "c.concept_code" if vocabulary_id else "CAST(c.concept_id AS text)"
        where = list(conditions)
        if vocabulary_id:
            where.insert(0, f"c.vocabulary_id = {self.bind(vocabulary_id)}")
        if concepts:
            where.append(f"{code} = ANY(CAST({self.bind(list(concepts))} AS text[]))")
        return (
            f"SELECT CAST({self.bind(system)} AS text) AS system, {code} AS code, "
            "c.concept_name AS display, c.concept_id, c.invalid_reason IS NOT NULL AS inactive "
            f"FROM {schema}.concept c WHERE {' AND '.join(where) or 'true'}"
        )

    def omop_condition(self, prop: str, op: str, value: str, *, code_expr: str) -> str:
        if op in ("=", "in"):
            if prop == "inactive":
                flag = value.lower() == "true"
                return f"(c.invalid_reason IS {'NOT ' if flag else ''}NULL)"
            if prop not in OMOP_PROPERTIES:
                raise UnsupportedFilter(
                    f"filter property {prop!r} (known: {sorted(OMOP_PROPERTIES)})"
                )
            if op == "=":
                return f"c.{prop} = {self.bind(value)}"
            values = [v.strip() for v in value.split(",")]
            return f"c.{prop} = ANY(CAST({self.bind(values)} AS text[]))"
        if op == "regex":
            target = {"code": code_expr, "concept": code_expr, "display": "c.concept_name"}
            if prop not in target:
                raise UnsupportedFilter(f"regex filter on {prop!r}: use code or display")
            return f"{target[prop]} ~ {self.bind(value)}"
        raise UnsupportedFilter(f"filter {prop} {op}")

    def fhir_select(
        self, *, system: str, version: str, concepts: tuple[str, ...], conditions: list[str]
    ) -> str:
        where = [f"f.url = {self.bind(system)}", f"f.version = {self.bind(version)}", *conditions]
        if concepts:
            where.append(f"f.code = ANY(CAST({self.bind(list(concepts))} AS text[]))")
        return (
            "SELECT f.url AS system, f.code, f.display, CAST(NULL AS integer) AS concept_id, "
            f"false AS inactive FROM fhir_concept f WHERE {' AND '.join(where)}"
        )

    def fhir_descendants(self, system: str, version: str, code: str, *, include_self: bool) -> str:
        u, v, x = self.bind(system), self.bind(version), self.bind(code)
        closure = (
            f"WITH RECURSIVE d(code) AS (SELECT CAST({x} AS text) UNION SELECT f2.code "
            f"FROM fhir_concept f2 JOIN d ON d.code = ANY(f2.parents) "
            f"WHERE f2.url = {u} AND f2.version = {v}) SELECT code FROM d"
        )
        return closure if include_self else f"{closure} WHERE code <> {x}"

    def members(
        self, includes: list[str], excludes: list[str], *, text_filter: str | None = None
    ) -> str:
        """SELECT of every member (includes minus excludes, text filter on display)."""
        union = " UNION ".join(f"({s})" for s in includes)
        if excludes:
            union = f"({union}) EXCEPT ({' UNION '.join(f'({s})' for s in excludes)})"
        where = ""
        if text_filter:
            where = f" WHERE lower(u.display) LIKE {self.bind('%' + text_filter.lower() + '%')}"
        return f"SELECT u.* FROM ({union}) u{where}"

    @staticmethod
    def page(members: str, *, count: int, offset: int) -> str:
        return (
            f"SELECT m.*, count(*) OVER () AS total FROM ({members}) m "
            f"ORDER BY m.system, m.code LIMIT {int(count)} OFFSET {int(offset)}"
        )
