"""The constraint tree of an ADL 1.4 operational template (AOM 1.4, as OPT XML carries it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CAttribute",
    "CObject",
    "Interval",
    "OperationalTemplate",
    "Primitive",
    "QuantityItem",
]


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed/open interval of numbers; ``None`` bound = unbounded."""

    lower: float | None = None
    upper: float | None = None
    lower_included: bool = True
    upper_included: bool = True

    def contains(self, value: float) -> bool:
        if self.lower is not None and (
            value < self.lower or (value == self.lower and not self.lower_included)
        ):
            return False
        return not (
            self.upper is not None
            and (value > self.upper or (value == self.upper and not self.upper_included))
        )

    def __str__(self) -> str:
        lo = "*" if self.lower is None else _num(self.lower)
        hi = "*" if self.upper is None else _num(self.upper)
        return (
            f"{'[' if self.lower_included else '('}{lo}..{hi}{']' if self.upper_included else ')'}"
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(slots=True)
class Primitive:
    """A C_PRIMITIVE_OBJECT's item: C_STRING, C_INTEGER, C_REAL, C_BOOLEAN, C_DATE_TIME..."""

    kind: str
    pattern: str | None = None
    values: list[Any] = field(default_factory=list)
    range: Interval | None = None
    true_valid: bool = True
    false_valid: bool = True


@dataclass(slots=True)
class QuantityItem:
    """One allowed (units, magnitude range, precision) of a C_DV_QUANTITY."""

    units: str
    magnitude: Interval | None = None
    precision: Interval | None = None


@dataclass(slots=True)
class CObject:
    """A node constraint. ``kind`` is the AOM class (C_COMPLEX_OBJECT, C_ARCHETYPE_ROOT,
    ARCHETYPE_SLOT, ARCHETYPE_INTERNAL_REF, C_CODE_PHRASE, C_DV_QUANTITY, C_DV_ORDINAL,
    C_PRIMITIVE_OBJECT, CONSTRAINT_REF)."""

    kind: str
    rm_type: str
    node_id: str | None
    occurrences: Interval
    attributes: list[CAttribute] = field(default_factory=list)
    archetype_id: str | None = None
    #: the AQL-style path of this node in the template (``/content[openEHR-...]/data[at0001]``)
    path: str = "/"
    # C_ARCHETYPE_ROOT: its archetype's term texts (code -> text)
    terms: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    # ARCHETYPE_SLOT
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    # ARCHETYPE_INTERNAL_REF (``target`` resolved after parsing)
    target_path: str | None = None
    target: CObject | None = field(default=None, repr=False)
    # C_CODE_PHRASE
    terminology: str | None = None
    codes: list[str] = field(default_factory=list)
    #: C_CODE_PHRASE ``assumed_value`` code; C_CODE_REFERENCE ``referenceSetUri``
    assumed_code: str | None = None
    reference_set_uri: str | None = None
    # C_DV_QUANTITY
    quantity_property: str | None = None
    quantities: list[QuantityItem] = field(default_factory=list)
    # C_DV_ORDINAL: (value, terminology, code)
    ordinals: list[tuple[int, str, str]] = field(default_factory=list)
    # C_PRIMITIVE_OBJECT
    primitive: Primitive | None = None
    #: nearest enclosing archetype root (for internal references and term texts)
    root: CObject | None = field(default=None, repr=False)

    def attribute(self, name: str) -> CAttribute | None:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        return None

    @property
    def is_archetype_root(self) -> bool:
        return self.kind == "C_ARCHETYPE_ROOT"

    @property
    def match_id(self) -> str | None:
        """The ``archetype_node_id`` a data node carries to match this constraint."""
        return self.archetype_id if self.is_archetype_root else self.node_id


@dataclass(slots=True)
class CAttribute:
    """An attribute constraint: existence, children, and (multiple) cardinality."""

    name: str
    existence: Interval
    multiple: bool
    children: list[CObject] = field(default_factory=list)
    cardinality: Interval | None = None


@dataclass(slots=True)
class OperationalTemplate:
    """A parsed OPT: its id, concept, root archetype and constraint tree."""

    template_id: str
    concept: str
    uid: str | None
    language: str
    definition: CObject
    #: archetype id -> every C_ARCHETYPE_ROOT of it (for slots and listings)
    archetypes: dict[str, list[CObject]] = field(default_factory=dict)
    #: template ``annotations``: node path (without the root archetype) -> items
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def root_archetype_id(self) -> str:
        return self.definition.archetype_id or ""

    @property
    def rm_type(self) -> str:
        return self.definition.rm_type
