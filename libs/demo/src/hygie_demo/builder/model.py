"""A compact, readable definition of an operational template.

A template is a composition archetype whose ``content`` holds entry archetypes; every
node names its at-code and its text (the ``term_definitions`` of its archetype), its
occurrences, and for an ELEMENT the data value types it accepts with their constraints.
Node codes follow the archetypes of the international CKM; constraints (units, ranges,
code lists, occurrences) are ours.

Example::

    Observation(
        "openEHR-EHR-OBSERVATION.pulse.v2", "Pulse/Heart beat",
        history=("at0002", "History"), event=("at0003", "Any event"),
        data=("at0001", "structure"),
        items=[Element("at0004", "Rate", Quantity({"/min": (0, 1000)}, "382"))],
    )
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "UNBOUNDED",
    "Action",
    "AdminEntry",
    "Cluster",
    "Coded",
    "Composition",
    "Count",
    "DateTime",
    "Element",
    "Entry",
    "Evaluation",
    "Identifier",
    "Instruction",
    "Item",
    "Observation",
    "Occurrences",
    "Proportion",
    "Quantity",
    "Template",
    "Text",
    "Value",
]

#: the upper bound of ``0..*``
UNBOUNDED: None = None
#: (lower, upper); upper ``None`` is unbounded
Occurrences = tuple[int, int | None]


# --- data values -----------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """DV_TEXT: free text."""


@dataclass(frozen=True)
class Coded:
    """DV_CODED_TEXT. ``terminology="local"`` with ``codes`` as ``{at-code: text}``
    (their texts join the archetype's terms); an external terminology (``ICD10``,
    ``SNOMED-CT``, ``LOINC``, ``ATC``, ``openehr``) with an optional code list."""

    terminology: str = "local"
    codes: dict[str, str] | Sequence[str] = field(default_factory=dict)


@dataclass(frozen=True)
class Quantity:
    """DV_QUANTITY: allowed units with their magnitude range (``None`` = unbounded), and
    the openEHR property code (``382`` frequency, ``125`` pressure, ``127`` temperature,
    ``124`` mass...)."""

    units: dict[str, tuple[float | None, float | None]]
    property: str | None = None


@dataclass(frozen=True)
class DateTime:
    """DV_DATE_TIME."""


@dataclass(frozen=True)
class Count:
    """DV_COUNT with an optional range."""

    lower: int | None = None
    upper: int | None = None


@dataclass(frozen=True)
class Proportion:
    """DV_PROPORTION of a type (2 = percent) with a numerator range."""

    type: int = 2
    lower: float | None = 0
    upper: float | None = 100


@dataclass(frozen=True)
class Identifier:
    """DV_IDENTIFIER."""


Value = Text | Coded | Quantity | DateTime | Count | Proportion | Identifier


# --- items -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Element:
    """An ELEMENT: its at-code, its text, the data value type(s) it takes."""

    code: str
    text: str
    values: Value | tuple[Value, ...]
    occurrences: Occurrences = (0, 1)
    description: str = ""


@dataclass(frozen=True)
class Cluster:
    """A CLUSTER node of the archetype (``code`` an at-code) or, when ``archetype_id`` is
    given, a CLUSTER archetype placed in the item tree (its own terms)."""

    code: str
    text: str
    items: tuple[Item, ...]
    occurrences: Occurrences = (0, 1)
    archetype_id: str | None = None
    description: str = ""


Item = Element | Cluster


# --- entries ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """OBSERVATION: ``data`` HISTORY → ``events`` EVENT → ``data`` ITEM_TREE → items."""

    archetype_id: str
    text: str
    history: tuple[str, str]
    event: tuple[str, str]
    data: tuple[str, str]
    items: tuple[Item, ...]
    occurrences: Occurrences = (0, UNBOUNDED)
    event_occurrences: Occurrences = (1, UNBOUNDED)


@dataclass(frozen=True)
class Evaluation:
    """EVALUATION: ``data`` ITEM_TREE → items."""

    archetype_id: str
    text: str
    data: tuple[str, str]
    items: tuple[Item, ...]
    occurrences: Occurrences = (0, UNBOUNDED)


@dataclass(frozen=True)
class AdminEntry:
    """ADMIN_ENTRY: ``data`` ITEM_TREE → items."""

    archetype_id: str
    text: str
    data: tuple[str, str]
    items: tuple[Item, ...]
    occurrences: Occurrences = (0, 1)


@dataclass(frozen=True)
class Instruction:
    """INSTRUCTION: ``activities`` ACTIVITY → ``description`` ITEM_TREE → items."""

    archetype_id: str
    text: str
    activity: tuple[str, str]
    description: tuple[str, str]
    items: tuple[Item, ...]
    occurrences: Occurrences = (0, UNBOUNDED)
    #: ACTIVITY.action_archetype_id (a regular expression naming the ACTIONs that act on it)
    action_archetype_id: str = r"/.*/"


@dataclass(frozen=True)
class Action:
    """ACTION: ``description`` ITEM_TREE → items."""

    archetype_id: str
    text: str
    description: tuple[str, str]
    items: tuple[Item, ...]
    occurrences: Occurrences = (0, UNBOUNDED)


Entry = Observation | Evaluation | AdminEntry | Instruction | Action


# --- template --------------------------------------------------------------------------
@dataclass(frozen=True)
class Composition:
    """The root: a COMPOSITION archetype, its category (openEHR 433 event, 431
    persistent) and the entries its ``content`` may hold."""

    archetype_id: str
    text: str
    content: tuple[Entry, ...]
    category: str = "433"
    #: context/other_context ITEM_TREE (at-code, text) and its items, if any
    other_context: tuple[str, str] | None = None
    context_items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Template:
    """An operational template: id, concept, a stable uid, a purpose, its composition."""

    template_id: str
    concept: str
    uid: str
    purpose: str
    composition: Composition
    language: str = "en"
