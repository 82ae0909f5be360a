"""Validation of RM instances (canonical JSON) against an operational template.

Every error is collected (not just the first), each with the path of the offending node
in the instance, written the AQL way (``/content[openEHR-EHR-OBSERVATION.bp.v2]/data[at0001]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .datatypes import check_temporal_pattern
from .opt.model import CAttribute, CObject, OperationalTemplate, Primitive
from .rm import check_data_value, conforms, is_locatable, mandatory_attributes

__all__ = ["ValidationIssue", "validate"]

_NUMERIC_PRIMITIVES = {"C_INTEGER", "C_REAL"}
#: RM attributes whose value is itself a regular expression (ACTIVITY.action_archetype_id),
#: so a template's pattern on them describes, not constrains, the instance.
_UNCHECKED = {"action_archetype_id"}
_AT_CODE = re.compile(r"^(at|id)\d")

#: RM functions a template may constrain as attributes: derived from other attributes
#: (``EVENT.offset`` = ``time`` - the history's ``origin``), so a document that leaves them
#: out is complete; when present they are checked like any attribute.
_DERIVED = frozenset({("POINT_EVENT", "offset"), ("INTERVAL_EVENT", "offset"), ("EVENT", "offset")})


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One violation: where in the instance, and what is wrong."""

    path: str
    message: str
    #: ``id()`` of the innermost instance object being checked (for callers that map
    #: issues back to what they built, e.g. FLAT keys); not part of equality
    at: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def validate(instance: dict[str, Any], template: OperationalTemplate) -> list[ValidationIssue]:
    """Every violation of ``instance`` against ``template`` (empty when valid)."""
    issues: list[ValidationIssue] = []
    _Walker(issues).node(instance, template.definition, "/")
    return issues


def _id_of(data: Any) -> str | None:
    return data.get("archetype_node_id") if isinstance(data, dict) else None


def _full(c: CObject, counts: dict[int, int]) -> bool:
    upper = c.occurrences.upper
    return upper is not None and counts.get(id(c), 0) >= upper


def _join(path: str, step: str) -> str:
    return path.rstrip("/") + "/" + step


class _Walker:
    def __init__(self, issues: list[ValidationIssue]) -> None:
        self.issues = issues
        self.current: Any = None

    def add(self, path: str, message: str) -> None:
        self.issues.append(ValidationIssue(path or "/", message, id(self.current)))

    # --- nodes ------------------------------------------------------------------------
    def node(self, data: Any, c: CObject, path: str) -> None:
        outer = self.current
        if isinstance(data, dict):
            self.current = data
        self._node(data, c, path)
        self.current = outer

    def _node(self, data: Any, c: CObject, path: str) -> None:
        if c.kind == "ARCHETYPE_INTERNAL_REF":
            if c.target is None:
                return
            c = c.target
        if c.kind == "C_PRIMITIVE_OBJECT":
            self.primitive(data, c.primitive, path)
            return
        if not isinstance(data, dict):
            self.add(path, f"expected a {c.rm_type} object, got {type(data).__name__}")
            return
        rm_type = data.get("_type") or c.rm_type
        if not conforms(rm_type, c.rm_type):
            self.add(path, f"type {rm_type} is not allowed here (expected {c.rm_type})")
            return
        if c.kind == "C_CODE_PHRASE":
            self.code_phrase(data, c, path)
        elif c.kind == "C_DV_QUANTITY":
            self.quantity(data, c, path)
        elif c.kind == "C_DV_ORDINAL":
            self.ordinal(data, c, path)
        elif c.kind == "ARCHETYPE_SLOT":
            self.slot(data, c, path)
            return
        self.rm_invariants(data, rm_type, path)
        for attr in c.attributes:
            self.attribute(data, attr, rm_type, path)

    def rm_invariants(self, data: dict[str, Any], rm_type: str, path: str) -> None:
        if rm_type.startswith("DV_") or rm_type in ("CODE_PHRASE",):
            for sub, message in check_data_value(rm_type, data):
                self.add(path.rstrip("/") + sub, message)
            return
        for attr in mandatory_attributes(rm_type):
            if data.get(attr) is None:
                self.add(_join(path, attr), f"{rm_type}.{attr} is mandatory (RM)")
        if rm_type == "ELEMENT" and data.get("value") is None and data.get("null_flavour") is None:
            self.add(_join(path, "value"), "an ELEMENT needs a value or a null_flavour")

    # --- attributes --------------------------------------------------------------------
    def attribute(self, data: dict[str, Any], attr: CAttribute, rm_type: str, path: str) -> None:
        value = data.get(attr.name)
        where = _join(path, attr.name)
        if attr.multiple:
            if value is not None and not isinstance(value, list):
                self.add(where, f"{attr.name} must be a list")
                return
            items = value or []
            if not items and value is None and attr.existence.lower and attr.existence.lower >= 1:
                self.add(where, f"attribute {attr.name} is mandatory")
                return
            if attr.cardinality and not attr.cardinality.contains(len(items)):
                self.add(where, f"{len(items)} items, the template allows {attr.cardinality}")
            self.children(items, attr, where, path)
            return
        if value is None:
            mandatory = attr.existence.lower and attr.existence.lower >= 1
            if mandatory and (rm_type, attr.name) not in _DERIVED:
                self.add(where, f"attribute {attr.name} is mandatory")
            return
        if isinstance(value, list):
            self.add(where, f"{attr.name} takes one value, not a list")
            return
        if not attr.children or attr.name in _UNCHECKED:
            return
        candidates = self.candidates(value, attr.children)
        if not candidates:
            self.add(where, self.no_match(value, attr.children))
            return
        self.best(value, candidates, where)

    def children(self, items: list[Any], attr: CAttribute, where: str, parent: str) -> None:
        counts: dict[int, int] = {}
        for item in items:
            node_id = _id_of(item)
            item_path = f"{where}[{node_id}]" if node_id else where
            if not attr.children:
                continue
            candidates = self.candidates(item, attr.children)
            if not candidates:
                self.add(item_path, self.no_match(item, attr.children))
                continue
            # alternatives of one node (named differently): an instance goes to one that
            # still has room before one already at its maximum occurrences
            candidates.sort(key=lambda c: _full(c, counts))
            chosen = self.best(item, candidates, item_path)
            counts[id(chosen)] = counts.get(id(chosen), 0) + 1
        for child in attr.children:
            n = counts.get(id(child), 0)
            if not child.occurrences.contains(n):
                label = child.match_id or child.rm_type
                node = f"{where}[{label}]" if child.match_id else where
                name = child.root.terms.get(child.node_id or "", "") if child.root else ""
                what = f"{child.rm_type} {label}" + (f" ({name})" if name else "")
                self.add(node, f"{what} occurs {n} times, the template allows {child.occurrences}")

    def candidates(self, item: Any, children: list[CObject]) -> list[CObject]:
        if not isinstance(item, dict):
            return [c for c in children if c.kind == "C_PRIMITIVE_OBJECT"] or children[:1]
        node_id = item.get("archetype_node_id")
        rm_type = item.get("_type")
        found = []
        for c in children:
            target = c.target if c.kind == "ARCHETYPE_INTERNAL_REF" and c.target else c
            if rm_type and not conforms(rm_type, target.rm_type):
                continue
            if c.kind == "ARCHETYPE_SLOT":
                # a slot takes archetype roots, never a node of this archetype (at0094...)
                if node_id and not _AT_CODE.match(node_id) and self.slot_allows(c, node_id):
                    found.append(c)
            elif c.match_id is None or not is_locatable(target.rm_type) or node_id == c.match_id:
                found.append(c)
        # the exact type first; a node the template names before a slot that also takes it
        found.sort(key=lambda c: ((c.target or c).rm_type != rm_type, c.kind == "ARCHETYPE_SLOT"))
        return found

    def best(self, item: Any, candidates: list[CObject], path: str) -> CObject:
        """Validate against the first candidate that fits (templates may repeat a node
        with different name constraints); report the first candidate's issues otherwise."""
        if len(candidates) == 1:
            self.node(item, candidates[0], path)
            return candidates[0]
        first: list[ValidationIssue] | None = None
        for c in candidates:
            trial: list[ValidationIssue] = []
            _Walker(trial).node(item, c, path)
            if not trial:
                return c
            if first is None:
                first = trial
        self.issues.extend(first or [])
        return candidates[0]

    def no_match(self, item: Any, children: list[CObject]) -> str:
        allowed = sorted({c.match_id or c.rm_type for c in children})
        got = (
            _id_of(item)
            or (item.get("_type") if isinstance(item, dict) else None)
            or type(item).__name__
        )
        return f"{got} is not allowed here by the template (allowed: {', '.join(allowed)})"

    # --- leaf constraints ------------------------------------------------------------
    def slot_allows(self, c: CObject, archetype_id: str) -> bool:
        def hit(patterns: list[str]) -> bool:
            return any(
                (rx := _regex(p)) is not None and rx.fullmatch(archetype_id) for p in patterns
            )

        if c.excludes and hit(c.excludes) and not (c.includes and hit(c.includes)):
            return False
        return not c.includes or hit(c.includes)

    def slot(self, data: dict[str, Any], c: CObject, path: str) -> None:
        node_id = data.get("archetype_node_id")
        if not node_id or not self.slot_allows(c, node_id):
            self.add(path, f"archetype {node_id!r} is not allowed in this slot")

    def code_phrase(self, data: dict[str, Any], c: CObject, path: str) -> None:
        terminology = (data.get("terminology_id") or {}).get("value")
        code = data.get("code_string")
        if c.terminology and c.codes and terminology != c.terminology:
            self.add(
                _join(path, "terminology_id"),
                f"terminology {terminology!r} is not {c.terminology!r}",
            )
        elif c.codes and code not in c.codes:
            self.add(
                _join(path, "code_string"),
                f"code {code!r} is not in the list of the template ({', '.join(c.codes)})",
            )

    def quantity(self, data: dict[str, Any], c: CObject, path: str) -> None:
        if not c.quantities:
            return
        units, magnitude = data.get("units"), data.get("magnitude")
        item = next((q for q in c.quantities if q.units == units), None)
        if item is None:
            allowed = ", ".join(q.units for q in c.quantities)
            self.add(_join(path, "units"), f"units {units!r} are not allowed ({allowed})")
            return
        if (
            item.magnitude
            and isinstance(magnitude, int | float)
            and not item.magnitude.contains(magnitude)
        ):
            self.add(
                _join(path, "magnitude"),
                f"magnitude {magnitude} is outside {item.magnitude} {units}",
            )

    def ordinal(self, data: dict[str, Any], c: CObject, path: str) -> None:
        if not c.ordinals:
            return
        symbol = (data.get("symbol") or {}).get("defining_code") or {}
        code = symbol.get("code_string")
        value = data.get("value")
        if not any(v == value and code == cd for v, _, cd in c.ordinals):
            allowed = ", ".join(f"{v}|{cd}" for v, _, cd in c.ordinals)
            self.add(path, f"ordinal {value}|{code} is not in the template's list ({allowed})")

    def primitive(self, value: Any, p: Primitive | None, path: str) -> None:
        if p is None:
            return
        kind = p.kind
        if kind == "C_STRING":
            if not isinstance(value, str):
                self.add(path, "expected a string")
            elif p.values and value not in p.values:
                self.add(path, f"{value!r} is not one of {', '.join(map(repr, p.values))}")
            elif p.pattern and (rx := _regex(p.pattern)) is not None and not rx.fullmatch(value):
                self.add(path, f"{value!r} does not match the pattern {p.pattern!r}")
        elif kind in _NUMERIC_PRIMITIVES:
            if not isinstance(value, int | float) or isinstance(value, bool):
                self.add(path, "expected a number")
            elif p.values and value not in p.values:
                self.add(path, f"{value} is not one of {p.values}")
            elif p.range and not p.range.contains(value):
                self.add(path, f"{value} is outside {p.range}")
        elif kind == "C_BOOLEAN":
            if not isinstance(value, bool):
                self.add(path, "expected true or false")
            elif (value and not p.true_valid) or (not value and not p.false_valid):
                self.add(path, f"{str(value).lower()} is not allowed here")
        elif kind in ("C_DATE_TIME", "C_DATE", "C_TIME") and isinstance(value, str) and p.pattern:
            message = check_temporal_pattern(p.pattern, value)
            if message:
                self.add(path, message)
