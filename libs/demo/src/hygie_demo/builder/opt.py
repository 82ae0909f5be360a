"""Emit ADL 1.4 operational template XML (``Template.xsd``, namespace
``http://schemas.openehr.org/v1``) from a :class:`~hygie_demo.builder.model.Template`.

The shape follows what the template designers emit (and what the EHR store's parser
reads): ``C_COMPLEX_OBJECT`` nodes with ``rm_type_name``, ``occurrences``, ``node_id`` and
``attributes``; ``C_ARCHETYPE_ROOT`` adding ``archetype_id`` and its
``term_definitions``; ``C_MULTIPLE_ATTRIBUTE`` with a ``cardinality``; leaf constraints
as ``C_DV_QUANTITY``, ``C_CODE_PHRASE`` and ``C_PRIMITIVE_OBJECT``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from .model import (
    Action,
    AdminEntry,
    Coded,
    Composition,
    Count,
    DateTime,
    Element,
    Entry,
    Evaluation,
    Identifier,
    Instruction,
    Item,
    Observation,
    Occurrences,
    Proportion,
    Quantity,
    Template,
    Text,
    Value,
)

__all__ = ["to_opt_xml"]

NS = "http://schemas.openehr.org/v1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("", NS)
ET.register_namespace("xsi", XSI)
_TYPE = f"{{{XSI}}}type"

Terms = dict[str, tuple[str, str]]


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        child.text = text
    return child


def _interval(parent: ET.Element, tag: str, lower: float | None, upper: float | None) -> ET.Element:
    """An interval: ``None`` bounds are unbounded; bounds are included."""
    node = _el(parent, tag)
    if lower is not None:
        _el(node, "lower_included", "true")
    if upper is not None:
        _el(node, "upper_included", "true")
    _el(node, "lower_unbounded", "true" if lower is None else "false")
    _el(node, "upper_unbounded", "true" if upper is None else "false")
    if lower is not None:
        _el(node, "lower", _num(lower))
    if upper is not None:
        _el(node, "upper", _num(upper))
    return node


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _object(
    parent: ET.Element,
    xsi_type: str,
    rm_type: str,
    occurrences: Occurrences,
    node_id: str = "",
    *,
    tag: str = "children",
) -> ET.Element:
    node = _el(parent, tag, **{_TYPE: xsi_type})
    _el(node, "rm_type_name", rm_type)
    _interval(node, "occurrences", *occurrences)
    _el(node, "node_id", node_id)
    return node


def _attribute(
    parent: ET.Element,
    name: str,
    *,
    multiple: bool = False,
    existence: Occurrences = (1, 1),
) -> ET.Element:
    attr = _el(
        parent,
        "attributes",
        **{_TYPE: "C_MULTIPLE_ATTRIBUTE" if multiple else "C_SINGLE_ATTRIBUTE"},
    )
    _el(attr, "rm_attribute_name", name)
    _interval(attr, "existence", *existence)
    return attr


def _cardinality(attr: ET.Element, lower: int = 0, upper: int | None = None) -> None:
    card = _el(attr, "cardinality")
    _el(card, "is_ordered", "false")
    _el(card, "is_unique", "false")
    _interval(card, "interval", lower, upper)


def _code_phrase(parent: ET.Element, terminology: str, codes: Iterable[str]) -> None:
    cp = _object(parent, "C_CODE_PHRASE", "CODE_PHRASE", (1, 1))
    terminology_id = _el(cp, "terminology_id")
    _el(terminology_id, "value", terminology)
    for code in codes:
        _el(cp, "code_list", code)


def _primitive(
    parent: ET.Element,
    rm_type: str,
    item_type: str,
    *,
    bounds: tuple[float | None, float | None] | None = None,
    values: Iterable[object] = (),
) -> None:
    prim = _object(parent, "C_PRIMITIVE_OBJECT", rm_type, (1, 1))
    item = _el(prim, "item", **{_TYPE: item_type})
    if bounds is not None:
        _interval(item, "range", *bounds)
    for value in values:
        _el(item, "list", str(value))


# --- data values -----------------------------------------------------------------------
def _value(parent: ET.Element, value: Value, terms: Terms) -> None:
    if isinstance(value, Text):
        _object(parent, "C_COMPLEX_OBJECT", "DV_TEXT", (1, 1))
    elif isinstance(value, DateTime):
        _object(parent, "C_COMPLEX_OBJECT", "DV_DATE_TIME", (1, 1))
    elif isinstance(value, Identifier):
        _object(parent, "C_COMPLEX_OBJECT", "DV_IDENTIFIER", (1, 1))
    elif isinstance(value, Coded):
        node = _object(parent, "C_COMPLEX_OBJECT", "DV_CODED_TEXT", (1, 1))
        attr = _attribute(node, "defining_code")
        if isinstance(value.codes, dict):
            for code, text in value.codes.items():
                terms.setdefault(code, (text, text))
            codes: Iterable[str] = value.codes.keys()
        else:
            codes = value.codes
        _code_phrase(attr, value.terminology, codes)
    elif isinstance(value, Quantity):
        node = _object(parent, "C_DV_QUANTITY", "DV_QUANTITY", (1, 1))
        if value.property:
            prop = _el(node, "property")
            terminology_id = _el(prop, "terminology_id")
            _el(terminology_id, "value", "openehr")
            _el(prop, "code_string", value.property)
        for units, (lower, upper) in value.units.items():
            item = _el(node, "list")
            _interval(item, "magnitude", lower, upper)
            _el(item, "units", units)
    elif isinstance(value, Count):
        node = _object(parent, "C_COMPLEX_OBJECT", "DV_COUNT", (1, 1))
        attr = _attribute(node, "magnitude")
        _primitive(attr, "INTEGER", "C_INTEGER", bounds=(value.lower, value.upper))
    elif isinstance(value, Proportion):
        node = _object(parent, "C_COMPLEX_OBJECT", "DV_PROPORTION", (1, 1))
        attr = _attribute(node, "numerator")
        _primitive(attr, "REAL", "C_REAL", bounds=(value.lower, value.upper))
        attr = _attribute(node, "type")
        _primitive(attr, "INTEGER", "C_INTEGER", values=(value.type,))
    else:  # pragma: no cover - exhaustive over Value
        raise TypeError(f"unsupported data value {value!r}")


# --- items -----------------------------------------------------------------------------
def _items(parent: ET.Element, items: Iterable[Item], terms: Terms) -> None:
    items = list(items)
    if not items:
        return
    attr = _attribute(parent, "items", multiple=True)
    for item in items:
        if isinstance(item, Element):
            terms[item.code] = (item.text, item.description or item.text)
            node = _object(attr, "C_COMPLEX_OBJECT", "ELEMENT", item.occurrences, item.code)
            value_attr = _attribute(node, "value", existence=(0, 1))
            values = item.values if isinstance(item.values, tuple) else (item.values,)
            for value in values:
                _value(value_attr, value, terms)
        elif item.archetype_id:
            own: Terms = {"at0000": (item.text, item.description or item.text)}
            node = _object(attr, "C_ARCHETYPE_ROOT", "CLUSTER", item.occurrences, "at0000")
            _items(node, item.items, own)
            _root_tail(node, item.archetype_id, own)
        else:
            terms[item.code] = (item.text, item.description or item.text)
            node = _object(attr, "C_COMPLEX_OBJECT", "CLUSTER", item.occurrences, item.code)
            _items(node, item.items, terms)
    _cardinality(attr, 0, None)


def _tree(
    parent: ET.Element, attribute: str, code: tuple[str, str], items: Iterable[Item], terms: Terms
) -> None:
    attr = _attribute(parent, attribute)
    terms[code[0]] = (code[1], code[1])
    tree = _object(attr, "C_COMPLEX_OBJECT", "ITEM_TREE", (1, 1), code[0])
    _items(tree, items, terms)


def _root_tail(
    node: ET.Element, archetype_id: str, terms: Terms, template_id: str | None = None
) -> None:
    archetype = _el(node, "archetype_id")
    _el(archetype, "value", archetype_id)
    if template_id:
        tid = _el(node, "template_id")
        _el(tid, "value", template_id)
    for code in sorted(terms, key=_code_order):
        text, description = terms[code]
        term = _el(node, "term_definitions", code=code)
        _el(term, "items", text, id="text")
        _el(term, "items", description, id="description")


def _code_order(code: str) -> tuple[int, str]:
    digits = "".join(ch for ch in code if ch.isdigit())
    return (int(digits) if digits else 0, code)


# --- entries ---------------------------------------------------------------------------
def _entry(parent: ET.Element, entry: Entry) -> None:
    rm_type = {
        Observation: "OBSERVATION",
        Evaluation: "EVALUATION",
        AdminEntry: "ADMIN_ENTRY",
        Instruction: "INSTRUCTION",
        Action: "ACTION",
    }[type(entry)]
    terms: Terms = {"at0000": (entry.text, entry.text)}
    node = _object(parent, "C_ARCHETYPE_ROOT", rm_type, entry.occurrences, "at0000")
    if isinstance(entry, Observation):
        attr = _attribute(node, "data")
        terms[entry.history[0]] = (entry.history[1], entry.history[1])
        history = _object(attr, "C_COMPLEX_OBJECT", "HISTORY", (1, 1), entry.history[0])
        events = _attribute(history, "events", multiple=True)
        terms[entry.event[0]] = (entry.event[1], entry.event[1])
        event = _object(
            events, "C_COMPLEX_OBJECT", "EVENT", entry.event_occurrences, entry.event[0]
        )
        _tree(event, "data", entry.data, entry.items, terms)
        _cardinality(events, entry.event_occurrences[0], None)
    elif isinstance(entry, Evaluation | AdminEntry):
        _tree(node, "data", entry.data, entry.items, terms)
    elif isinstance(entry, Instruction):
        activities = _attribute(node, "activities", multiple=True, existence=(0, 1))
        terms[entry.activity[0]] = (entry.activity[1], entry.activity[1])
        activity = _object(activities, "C_COMPLEX_OBJECT", "ACTIVITY", (0, None), entry.activity[0])
        _tree(activity, "description", entry.description, entry.items, terms)
        attr = _attribute(activity, "action_archetype_id")
        prim = _object(attr, "C_PRIMITIVE_OBJECT", "STRING", (1, 1))
        item = _el(prim, "item", **{_TYPE: "C_STRING"})
        _el(item, "pattern", entry.action_archetype_id)
        _cardinality(activities, 0, None)
    else:
        _tree(node, "description", entry.description, entry.items, terms)
    _root_tail(node, entry.archetype_id, terms)


def _composition(parent: ET.Element, comp: Composition, template_id: str) -> None:
    node = _el(parent, "definition")
    _el(node, "rm_type_name", "COMPOSITION")
    _interval(node, "occurrences", 1, 1)
    _el(node, "node_id", "at0000")
    terms: Terms = {"at0000": (comp.text, comp.text)}
    category = _attribute(node, "category")
    coded = _object(category, "C_COMPLEX_OBJECT", "DV_CODED_TEXT", (1, 1))
    _code_phrase(_attribute(coded, "defining_code"), "openehr", [comp.category])
    if comp.other_context is not None:
        context = _attribute(node, "context", existence=(0, 1))
        ctx = _object(context, "C_COMPLEX_OBJECT", "EVENT_CONTEXT", (1, 1))
        _tree(ctx, "other_context", comp.other_context, comp.context_items, terms)
    content = _attribute(node, "content", multiple=True, existence=(0, 1))
    for entry in comp.content:
        _entry(content, entry)
    _cardinality(content, 0, None)
    _root_tail(node, comp.archetype_id, terms, template_id)


def to_opt_xml(template: Template) -> bytes:
    """The OPT document of ``template`` (UTF-8 XML with its declaration)."""
    root = ET.Element(f"{{{NS}}}template")
    language = _el(root, "language")
    terminology = _el(language, "terminology_id")
    _el(terminology, "value", "ISO_639-1")
    _el(language, "code_string", template.language)
    description = _el(root, "description")
    _el(description, "original_author", "Hygie", id="Original Author")
    _el(description, "lifecycle_state", "published")
    details = _el(description, "details")
    details_language = _el(details, "language")
    terminology = _el(details_language, "terminology_id")
    _el(terminology, "value", "ISO_639-1")
    _el(details_language, "code_string", template.language)
    _el(details, "purpose", template.purpose)
    uid = _el(root, "uid")
    _el(uid, "value", template.uid)
    template_id = _el(root, "template_id")
    _el(template_id, "value", template.template_id)
    _el(root, "concept", template.concept)
    _composition(root, template.composition, template.template_id)
    ET.indent(root, space="  ")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
