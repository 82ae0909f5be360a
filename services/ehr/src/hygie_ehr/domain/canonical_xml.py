"""openEHR canonical XML ↔ canonical JSON (ITS-XML schemas, RM 1.0.x/1.1).

The mapping: an element is an attribute of its parent object; ``xsi:type`` is ``_type``;
the XML attribute ``archetype_node_id`` is the JSON key of that name; the RM's
multiple-valued attributes (``content``, ``items``, ``events``...) are repeated elements
and JSON lists; leaves are text, typed as the RM types them (numbers, booleans). On the
way out, elements are written in the schema's order for the object's type (the JSON
store does not keep key order), ``xsi:type`` wherever the JSON carries ``_type``.
Namespaces are ignored on the way in (suite documents use several prefixes).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

__all__ = ["InvalidXml", "canonical_to_xml", "xml_to_canonical"]

OPENEHR_NS = "http://schemas.openehr.org/v1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI_NS}}}type"
MAX_DEPTH = 128

#: RM attributes that hold lists (repeated elements in XML)
_LISTS = frozenset(
    {
        "content",
        "items",
        "events",
        "activities",
        "rows",
        "links",
        "mappings",
        "participations",
        "other_participations",
        "identifiers",
        "other_reference_ranges",
        "originating_system_item_ids",
        "feeder_system_item_ids",
        "folders",
        "versions",
        "attestations",
        "other_input_version_uids",
    }
)

_LOCATABLE = ("name", "uid", "links", "archetype_details", "feeder_audit")
_ENTRY = (
    *_LOCATABLE,
    "language",
    "encoding",
    "other_participations",
    "workflow_id",
    "subject",
    "provider",
)
_CARE_ENTRY = (*_ENTRY, "protocol", "guideline_id")
_ORDERED = ("normal_status", "normal_range", "other_reference_ranges")
_AMOUNT = (*_ORDERED, "magnitude_status", "accuracy", "accuracy_is_percent")
_TEXT = ("value", "hyperlink", "formatting", "mappings", "language", "encoding")
_EVENT = (*_LOCATABLE, "time", "data", "state")
_ITEMS = (*_LOCATABLE, "items")

#: element order of each RM type (XSD sequences, inherited attributes first)
_ORDER: dict[str, tuple[str, ...]] = {
    "COMPOSITION": (
        *_LOCATABLE,
        "language",
        "territory",
        "category",
        "composer",
        "context",
        "content",
    ),
    "EVENT_CONTEXT": (
        "start_time",
        "end_time",
        "location",
        "setting",
        "other_context",
        "health_care_facility",
        "participations",
    ),
    "SECTION": _ITEMS,
    "OBSERVATION": (*_CARE_ENTRY, "data", "state"),
    "EVALUATION": (*_CARE_ENTRY, "data"),
    "INSTRUCTION": (*_CARE_ENTRY, "narrative", "expiry_time", "wf_definition", "activities"),
    "ACTION": (*_CARE_ENTRY, "time", "ism_transition", "instruction_details", "description"),
    "ADMIN_ENTRY": (*_ENTRY, "data"),
    "GENERIC_ENTRY": (*_LOCATABLE, "data"),
    "ACTIVITY": (*_LOCATABLE, "description", "timing", "action_archetype_id"),
    "ISM_TRANSITION": ("current_state", "transition", "careflow_step", "reason"),
    "INSTRUCTION_DETAILS": ("instruction_id", "activity_id", "wf_details"),
    "HISTORY": (*_LOCATABLE, "origin", "period", "duration", "summary", "events"),
    "EVENT": _EVENT,
    "POINT_EVENT": _EVENT,
    "INTERVAL_EVENT": (*_EVENT, "width", "sample_count", "math_function"),
    "ITEM_TREE": _ITEMS,
    "ITEM_LIST": _ITEMS,
    "CLUSTER": _ITEMS,
    "ITEM_SINGLE": (*_LOCATABLE, "item"),
    "ITEM_TABLE": (*_LOCATABLE, "rows"),
    "ELEMENT": (*_LOCATABLE, "value", "null_flavour", "null_reason"),
    "FOLDER": (*_LOCATABLE, "folders", "items", "details"),
    "EHR_STATUS": (*_LOCATABLE, "subject", "is_queryable", "is_modifiable", "other_details"),
    "DV_TEXT": _TEXT,
    "DV_CODED_TEXT": (*_TEXT, "defining_code"),
    "CODE_PHRASE": ("terminology_id", "code_string", "preferred_term"),
    "TERM_MAPPING": ("match", "purpose", "target"),
    "DV_QUANTITY": (
        *_AMOUNT,
        "magnitude",
        "units",
        "precision",
        "units_system",
        "units_display_name",
    ),
    "DV_COUNT": (*_AMOUNT, "magnitude"),
    "DV_PROPORTION": (*_AMOUNT, "numerator", "denominator", "type", "precision"),
    "DV_ORDINAL": (*_ORDERED, "value", "symbol"),
    "DV_SCALE": (*_ORDERED, "value", "symbol"),
    "DV_DATE_TIME": (*_ORDERED, "magnitude_status", "accuracy", "value"),
    "DV_DATE": (*_ORDERED, "magnitude_status", "accuracy", "value"),
    "DV_TIME": (*_ORDERED, "magnitude_status", "accuracy", "value"),
    "DV_DURATION": (*_AMOUNT, "value"),
    "DV_INTERVAL": (
        "lower",
        "upper",
        "lower_included",
        "upper_included",
        "lower_unbounded",
        "upper_unbounded",
    ),
    "REFERENCE_RANGE": ("meaning", "range"),
    "DV_IDENTIFIER": ("issuer", "assigner", "id", "type"),
    "DV_PARSABLE": ("charset", "language", "value", "formalism"),
    "DV_MULTIMEDIA": (
        "charset",
        "language",
        "alternate_text",
        "uri",
        "data",
        "media_type",
        "compression_algorithm",
        "integrity_check",
        "integrity_check_algorithm",
        "thumbnail",
        "size",
    ),
    "DV_STATE": ("value", "is_terminal"),
    "PARTY_SELF": ("external_ref",),
    "PARTY_IDENTIFIED": ("external_ref", "name", "identifiers"),
    "PARTY_RELATED": ("external_ref", "name", "identifiers", "relationship"),
    "PARTICIPATION": ("function", "performer", "time", "mode"),
    "OBJECT_REF": ("id", "namespace", "type"),
    "PARTY_REF": ("id", "namespace", "type"),
    "LOCATABLE_REF": ("id", "namespace", "type", "path"),
    "ARCHETYPED": ("archetype_id", "template_id", "rm_version"),
    "LINK": ("meaning", "type", "target"),
    "FEEDER_AUDIT": (
        "originating_system_item_ids",
        "feeder_system_item_ids",
        "original_content",
        "originating_system_audit",
        "feeder_system_audit",
    ),
    "CONTRIBUTION": ("uid", "versions", "audit"),
    "ORIGINAL_VERSION": (
        "contribution",
        "commit_audit",
        "signature",
        "uid",
        "data",
        "preceding_version_uid",
        "other_input_version_uids",
        "attestations",
        "lifecycle_state",
    ),
    "AUDIT_DETAILS": ("system_id", "committer", "time_committed", "change_type", "description"),
    "FEEDER_AUDIT_DETAILS": (
        "system_id",
        "location",
        "subject",
        "provider",
        "time",
        "version_id",
        "other_details",
    ),
}
#: the type of an attribute whose JSON carries no ``_type`` (non-polymorphic attributes)
_ATTRIBUTE_TYPES = {
    "archetype_details": "ARCHETYPED",
    "language": "CODE_PHRASE",
    "territory": "CODE_PHRASE",
    "encoding": "CODE_PHRASE",
    "terminology_id": "TERMINOLOGY_ID",
    "defining_code": "CODE_PHRASE",
    "category": "DV_CODED_TEXT",
    "setting": "DV_CODED_TEXT",
    "context": "EVENT_CONTEXT",
    "external_ref": "PARTY_REF",
    "links": "LINK",
    "mappings": "TERM_MAPPING",
    "ism_transition": "ISM_TRANSITION",
    "instruction_details": "INSTRUCTION_DETAILS",
    "activities": "ACTIVITY",
    "participations": "PARTICIPATION",
    "other_participations": "PARTICIPATION",
    "feeder_audit": "FEEDER_AUDIT",
    "originating_system_audit": "FEEDER_AUDIT_DETAILS",
    "feeder_system_audit": "FEEDER_AUDIT_DETAILS",
    "other_reference_ranges": "REFERENCE_RANGE",
    "normal_range": "DV_INTERVAL",
    "current_state": "DV_CODED_TEXT",
    "transition": "DV_CODED_TEXT",
    "careflow_step": "DV_CODED_TEXT",
    "function": "DV_TEXT",
    "mode": "DV_CODED_TEXT",
    "time": "DV_DATE_TIME",
    "start_time": "DV_DATE_TIME",
    "end_time": "DV_DATE_TIME",
    "origin": "DV_DATE_TIME",
    "expiry_time": "DV_DATE_TIME",
    "math_function": "DV_CODED_TEXT",
    "null_flavour": "DV_CODED_TEXT",
    "folders": "FOLDER",
    "audit": "AUDIT_DETAILS",
    "commit_audit": "AUDIT_DETAILS",
    "change_type": "DV_CODED_TEXT",
    "lifecycle_state": "DV_CODED_TEXT",
    "time_committed": "DV_DATE_TIME",
    "contribution": "OBJECT_REF",
    "versions": "OBJECT_REF",
}

_BOOL_KEYS = frozenset(
    {
        "is_queryable",
        "is_modifiable",
        "lower_included",
        "upper_included",
        "lower_unbounded",
        "upper_unbounded",
        "accuracy_is_percent",
        "is_terminal",
    }
)
#: typed leaves: (RM type, attribute) → int / float / bool
_TYPED: dict[tuple[str, str], type] = {
    ("DV_QUANTITY", "magnitude"): float,
    ("DV_QUANTITY", "precision"): int,
    ("DV_QUANTITY", "accuracy"): float,
    ("DV_COUNT", "magnitude"): int,
    ("DV_COUNT", "accuracy"): float,
    ("DV_PROPORTION", "numerator"): float,
    ("DV_PROPORTION", "denominator"): float,
    ("DV_PROPORTION", "type"): int,
    ("DV_PROPORTION", "precision"): int,
    ("DV_PROPORTION", "accuracy"): float,
    ("DV_ORDINAL", "value"): int,
    ("DV_SCALE", "value"): float,
    ("DV_BOOLEAN", "value"): bool,
    ("DV_MULTIMEDIA", "size"): int,
    ("DV_DURATION", "accuracy"): float,
    ("DV_DATE_TIME", "accuracy"): float,
    ("INTERVAL_EVENT", "sample_count"): int,
}
_INT = re.compile(r"^[+-]?\d+$")


class InvalidXml(ValueError):
    """A document that is not well-formed XML or not an openEHR RM object."""


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _leaf(rm_type: str | None, key: str, text: str) -> Any:
    kind = _TYPED.get((rm_type or "", key))
    if kind is None and key in _BOOL_KEYS:
        kind = bool
    if kind is None and key in ("magnitude", "precision", "numerator", "denominator"):
        kind = float
    if kind is None:
        return text
    value = text.strip()
    try:
        if kind is bool:
            if value not in ("true", "false", "1", "0"):
                raise InvalidXml(f"{key}: {value!r} is not a boolean")
            return value in ("true", "1")
        if kind is int or _INT.match(value):
            return int(value)
        return float(value)
    except ValueError:
        raise InvalidXml(f"{key}: {value!r} is not a number") from None


def _object(element: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidXml(f"the document is nested deeper than {MAX_DEPTH} levels")
    rm_type = element.get(XSI_TYPE)
    children = [c for c in element if isinstance(c.tag, str)]
    out: dict[str, Any] = {}
    if rm_type:
        out["_type"] = rm_type
    for name, value in element.attrib.items():
        if name != XSI_TYPE and not name.startswith("{"):
            out[name] = value
    for child in children:
        key = _local(child.tag)
        grandchildren = [c for c in child if isinstance(c.tag, str)]
        if grandchildren or child.get(XSI_TYPE) or any(not n.startswith("{") for n in child.attrib):
            value = _object(child, depth + 1)
        else:
            value = _leaf(rm_type, key, child.text or "")
        if key in _LISTS:
            out.setdefault(key, []).append(value)
        elif key in out:
            raise InvalidXml(f"{key} is repeated but holds a single value")
        else:
            out[key] = value
    return out


def xml_to_canonical(raw: bytes) -> dict[str, Any]:
    """The canonical JSON of an openEHR canonical XML document (its root's ``xsi:type``,
    or the root element's name, gives the type)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidXml(f"the body is not well-formed XML: {exc}") from None
    data = _object(root, 1)
    data.setdefault("_type", _local(root.tag).upper())
    return dict(data)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ordered(rm_type: str | None, data: dict[str, Any]) -> list[str]:
    keys = [k for k in data if k not in ("_type", "archetype_node_id")]
    order = _ORDER.get(rm_type or "", ())
    rank = {k: i for i, k in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k, len(order)), keys.index(k)))


def _element(parent: Any, key: str, value: Any, parent_type: str | None) -> None:
    if isinstance(value, list):
        for v in value:
            _element(parent, key, v, parent_type)
        return
    el = etree.SubElement(parent, f"{{{OPENEHR_NS}}}{key}")
    if isinstance(value, dict):
        _fill(el, value, _ATTRIBUTE_TYPES.get(key))
    elif value is not None:
        el.text = _text(value)


def _fill(el: Any, data: dict[str, Any], implied: str | None) -> None:
    rm_type = data.get("_type")
    if rm_type:
        el.set(XSI_TYPE, rm_type)
    if "archetype_node_id" in data:
        el.set("archetype_node_id", _text(data["archetype_node_id"]))
    of = rm_type or implied
    for key in _ordered(of, data):
        _element(el, key, data[key], of)


def canonical_to_xml(data: dict[str, Any], *, root: str | None = None) -> bytes:
    """The canonical XML of an RM object (root element named after its type, lower case,
    as the ITS-XML global elements ``composition``, ``ehr_status``, ``folder``...)."""
    name = root or str(data.get("_type", "composition")).lower()
    el = etree.Element(f"{{{OPENEHR_NS}}}{name}", nsmap={None: OPENEHR_NS, "xsi": XSI_NS})
    _fill(el, data, None)
    return bytes(etree.tostring(el, xml_declaration=True, encoding="UTF-8"))
