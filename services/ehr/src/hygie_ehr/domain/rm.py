"""What the validator needs of the openEHR Reference Model 1.1: the type names, the
subtype relation of the types templates constrain, the RM-mandatory attributes and the
invariants of the data value types."""

from __future__ import annotations

from numbers import Real
from typing import Any

from .datatypes import parse_temporal

__all__ = [
    "RM_TYPES",
    "UnknownRmType",
    "check_data_value",
    "check_known_types",
    "conforms",
    "is_locatable",
    "mandatory_attributes",
]

#: numeric attributes that clients (and EHRbase's examples) sometimes send as strings
_NUMERIC = {
    "DV_QUANTITY": ("magnitude", "precision"),
    "DV_COUNT": ("magnitude",),
    "DV_ORDINAL": ("value",),
    "DV_SCALE": ("value",),
    "DV_PROPORTION": ("numerator", "denominator", "type", "precision"),
}

_DATA_VALUES = {
    "DV_BOOLEAN",
    "DV_STATE",
    "DV_IDENTIFIER",
    "DV_TEXT",
    "DV_CODED_TEXT",
    "DV_PARAGRAPH",
    "DV_ORDINAL",
    "DV_SCALE",
    "DV_QUANTITY",
    "DV_COUNT",
    "DV_PROPORTION",
    "DV_DATE_TIME",
    "DV_DATE",
    "DV_TIME",
    "DV_DURATION",
    "DV_INTERVAL",
    "DV_MULTIMEDIA",
    "DV_PARSABLE",
    "DV_URI",
    "DV_EHR_URI",
    "DV_GENERAL_TIME_SPECIFICATION",
    "DV_PERIODIC_TIME_SPECIFICATION",
}
_LOCATABLES = {
    "COMPOSITION",
    "SECTION",
    "OBSERVATION",
    "EVALUATION",
    "INSTRUCTION",
    "ACTION",
    "ADMIN_ENTRY",
    "GENERIC_ENTRY",
    "ACTIVITY",
    "HISTORY",
    "EVENT",
    "POINT_EVENT",
    "INTERVAL_EVENT",
    "ITEM_TREE",
    "ITEM_LIST",
    "ITEM_TABLE",
    "ITEM_SINGLE",
    "CLUSTER",
    "ELEMENT",
    "EHR_STATUS",
    "FOLDER",
    "EHR_ACCESS",
    "PARTY_IDENTITY",
    "CAPABILITY",
    "PERSON",
    "ORGANISATION",
    "ROLE",
    "CONTACT",
    "ADDRESS",
    "AGENT",
    "GROUP",
    "PARTY_RELATIONSHIP",
}
_OTHERS = {
    "EVENT_CONTEXT",
    "PARTICIPATION",
    "PARTY_SELF",
    "PARTY_IDENTIFIED",
    "PARTY_RELATED",
    "CODE_PHRASE",
    "TERMINOLOGY_ID",
    "ARCHETYPE_ID",
    "TEMPLATE_ID",
    "HIER_OBJECT_ID",
    "OBJECT_VERSION_ID",
    "GENERIC_ID",
    "INTERNET_ID",
    "UUID",
    "ISO_OID",
    "OBJECT_ID",
    "PARTY_REF",
    "LOCATABLE_REF",
    "OBJECT_REF",
    "ARCHETYPED",
    "LINK",
    "FEEDER_AUDIT_DETAILS",
    "AUDIT_DETAILS",
    "ATTESTATION",
    "REVISION_HISTORY",
    "REVISION_HISTORY_ITEM",
    "ORIGINAL_VERSION",
    "IMPORTED_VERSION",
    "VERSIONED_COMPOSITION",
    "VERSIONED_EHR_STATUS",
    "VERSIONED_FOLDER",
    "CONTRIBUTION",
    "EHR",
    "REFERENCE_RANGE",
    "TERM_MAPPING",
    "DV_INTERVAL<DV_COUNT>",
    "DV_INTERVAL<DV_QUANTITY>",
    "DV_INTERVAL<DV_DATE_TIME>",
    "DV_INTERVAL<DV_DATE>",
    "DV_INTERVAL<DV_TIME>",
    "DV_INTERVAL<DV_DURATION>",
    "DV_INTERVAL<DV_PROPORTION>",
    "DV_INTERVAL<DV_ORDINAL>",
    "DV_INTERVAL<DV_SCALE>",
    "ISM_TRANSITION",
    "INSTRUCTION_DETAILS",
    "FEEDER_AUDIT",
    "INTERVAL",
    "ENTRY",
    "CARE_ENTRY",
    "CONTENT_ITEM",
    "ITEM",
    "ITEM_STRUCTURE",
    "DATA_STRUCTURE",
    "DATA_VALUE",
    "DV_ORDERED",
    "DV_QUANTIFIED",
    "DV_AMOUNT",
    "DV_ABSOLUTE_QUANTITY",
    "DV_TEMPORAL",
    "DV_ENCAPSULATED",
    "PARTY_PROXY",
    "PATHABLE",
    "LOCATABLE",
    "TRANSLATION_DETAILS",
    "RESOURCE_DESCRIPTION",
    "AUTHORED_RESOURCE",
}
RM_TYPES = frozenset(_DATA_VALUES | _LOCATABLES | _OTHERS)

#: abstract (or generic) type -> the concrete types that conform to it
_SUBTYPES: dict[str, set[str]] = {
    "DV_TEXT": {"DV_CODED_TEXT"},
    "EVENT": {"POINT_EVENT", "INTERVAL_EVENT"},
    "ITEM_STRUCTURE": {"ITEM_TREE", "ITEM_LIST", "ITEM_TABLE", "ITEM_SINGLE"},
    "ITEM": {"CLUSTER", "ELEMENT"},
    "ENTRY": {"OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION", "ADMIN_ENTRY"},
    "CARE_ENTRY": {"OBSERVATION", "EVALUATION", "INSTRUCTION", "ACTION"},
    "CONTENT_ITEM": {
        "SECTION",
        "OBSERVATION",
        "EVALUATION",
        "INSTRUCTION",
        "ACTION",
        "ADMIN_ENTRY",
        "GENERIC_ENTRY",
    },
    "PARTY_PROXY": {"PARTY_SELF", "PARTY_IDENTIFIED", "PARTY_RELATED"},
    "PARTY_IDENTIFIED": {"PARTY_RELATED"},
    "OBJECT_ID": {
        "HIER_OBJECT_ID",
        "OBJECT_VERSION_ID",
        "GENERIC_ID",
        "ARCHETYPE_ID",
        "TEMPLATE_ID",
        "TERMINOLOGY_ID",
    },
    "UID_BASED_ID": {"HIER_OBJECT_ID", "OBJECT_VERSION_ID"},
    "DV_URI": {"DV_EHR_URI"},
    "DV_ENCAPSULATED": {"DV_MULTIMEDIA", "DV_PARSABLE"},
    "DV_INTERVAL": {t for t in _OTHERS if t.startswith("DV_INTERVAL<")},
    "DV_ORDERED": {
        "DV_ORDINAL",
        "DV_SCALE",
        "DV_QUANTITY",
        "DV_COUNT",
        "DV_PROPORTION",
        "DV_DATE_TIME",
        "DV_DATE",
        "DV_TIME",
        "DV_DURATION",
    },
    "DV_AMOUNT": {"DV_QUANTITY", "DV_COUNT", "DV_PROPORTION", "DV_DURATION"},
    "DV_QUANTIFIED": {
        "DV_QUANTITY",
        "DV_COUNT",
        "DV_PROPORTION",
        "DV_DURATION",
        "DV_DATE_TIME",
        "DV_DATE",
        "DV_TIME",
    },
    "DV_TEMPORAL": {"DV_DATE_TIME", "DV_DATE", "DV_TIME"},
    "DATA_VALUE": set(_DATA_VALUES),
    "DV_ORDINAL": {"DV_SCALE"},
}

#: attributes the RM itself requires (checked whether or not the template constrains them)
_MANDATORY: dict[str, tuple[str, ...]] = {
    "COMPOSITION": ("language", "territory", "category", "composer"),
    "OBSERVATION": ("language", "encoding", "subject", "data"),
    "EVALUATION": ("language", "encoding", "subject", "data"),
    "INSTRUCTION": ("language", "encoding", "subject", "narrative"),
    "ACTION": ("language", "encoding", "subject", "time", "description", "ism_transition"),
    "ADMIN_ENTRY": ("language", "encoding", "subject", "data"),
    "ACTIVITY": ("description",),
    "ISM_TRANSITION": ("current_state",),
    "HISTORY": ("origin",),
    "POINT_EVENT": ("time", "data"),
    "INTERVAL_EVENT": ("time", "data", "width", "math_function"),
    "EVENT_CONTEXT": ("start_time", "setting"),
    "EHR_STATUS": ("subject",),
    "CODE_PHRASE": ("terminology_id", "code_string"),
    "DV_TEXT": ("value",),
    "DV_CODED_TEXT": ("value", "defining_code"),
    "DV_QUANTITY": ("magnitude", "units"),
    "DV_COUNT": ("magnitude",),
    "DV_PROPORTION": ("numerator", "denominator", "type"),
    "DV_ORDINAL": ("value", "symbol"),
    "DV_SCALE": ("value", "symbol"),
    "DV_BOOLEAN": ("value",),
    "DV_IDENTIFIER": ("id",),
    "DV_DATE_TIME": ("value",),
    "DV_DATE": ("value",),
    "DV_TIME": ("value",),
    "DV_DURATION": ("value",),
    "DV_URI": ("value",),
    "DV_EHR_URI": ("value",),
    "DV_PARSABLE": ("value", "formalism"),
    "DV_MULTIMEDIA": ("media_type",),
    "PARTICIPATION": ("function", "performer"),
}


class UnknownRmType(ValueError):
    """A ``_type`` that names no openEHR RM type."""


def conforms(actual: str, expected: str) -> bool:
    """True when an instance of ``actual`` may stand where ``expected`` is constrained."""
    if actual == expected:
        return True
    if expected.startswith("DV_INTERVAL") and actual.startswith("DV_INTERVAL"):
        return True
    return actual in _SUBTYPES.get(expected, ())


def is_locatable(rm_type: str) -> bool:
    return rm_type in _LOCATABLES


def mandatory_attributes(rm_type: str) -> tuple[str, ...]:
    base = ("name", "archetype_node_id") if rm_type in _LOCATABLES else ()
    return base + _MANDATORY.get(rm_type, ())


def _as_number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number


def _path(link: tuple[Any, ...] | None) -> str:
    """The path of a node from its (parent link, step) chain, built only for a message."""
    steps: list[str] = []
    while link is not None:
        link, step = link
        steps.append(step)
    return "".join(reversed(steps))


def check_known_types(node: Any, path: str = "") -> None:
    """Raise :class:`UnknownRmType` for the first ``_type`` that is not an RM type; on the
    way, turn numeric strings of numeric data value attributes into numbers (canonical)."""
    # Only containers are visited, and a node's path is a chain of (parent, step) built
    # when an error needs it: this walk runs on every commit.
    stack: list[tuple[Any, tuple[Any, ...] | None]] = [(node, (None, path) if path else None)]
    while stack:
        current, link = stack.pop()
        if type(current) is dict:
            rm_type = current.get("_type")
            if rm_type is not None and (not isinstance(rm_type, str) or rm_type not in RM_TYPES):
                raise UnknownRmType(f"{_path(link) or '/'}: unknown RM type {rm_type!r}")
            if rm_type in _NUMERIC:
                for attr in _NUMERIC[rm_type]:
                    if attr in current:
                        current[attr] = _as_number(current[attr])
            for k, v in current.items():
                if (type(v) is dict or type(v) is list) and k != "_type":
                    stack.append((v, (link, f"/{k}")))
        elif type(current) is list:
            for i, v in enumerate(current):
                if type(v) is dict or type(v) is list:
                    stack.append((v, (link, f"[{i}]")))


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_data_value(rm_type: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """Invariants of a data value: (relative path, message) for each violation."""
    errors: list[tuple[str, str]] = []
    for attr in _MANDATORY.get(rm_type, ()):
        if data.get(attr) is None:
            errors.append((f"/{attr}", f"{rm_type}.{attr} is mandatory"))
    if errors:
        return errors
    value = data.get("value")
    if rm_type in (
        "DV_TEXT",
        "DV_CODED_TEXT",
        "DV_URI",
        "DV_EHR_URI",
        "DV_PARSABLE",
    ) and not isinstance(value, str):
        errors.append(("/value", f"{rm_type}.value must be a string"))
    elif rm_type in ("DV_DATE_TIME", "DV_DATE", "DV_TIME", "DV_DURATION"):
        if not isinstance(value, str) or not parse_temporal(rm_type, value):
            errors.append(("/value", f"{value!r} is not a valid ISO 8601 value for {rm_type}"))
    elif rm_type == "DV_QUANTITY":
        if not _is_number(data["magnitude"]):
            errors.append(("/magnitude", "DV_QUANTITY.magnitude must be a number"))
        if not isinstance(data["units"], str):
            errors.append(("/units", "DV_QUANTITY.units must be a string"))
    elif rm_type == "DV_COUNT":
        if not isinstance(data["magnitude"], int) or isinstance(data["magnitude"], bool):
            errors.append(("/magnitude", "DV_COUNT.magnitude must be an integer"))
    elif rm_type == "DV_BOOLEAN" and not isinstance(value, bool):
        errors.append(("/value", "DV_BOOLEAN.value must be true or false"))
    elif rm_type == "DV_PROPORTION":
        for attr in ("numerator", "denominator"):
            if not _is_number(data[attr]):
                errors.append((f"/{attr}", f"DV_PROPORTION.{attr} must be a number"))
        if data["type"] not in (0, 1, 2, 3, 4):
            errors.append(("/type", "DV_PROPORTION.type must be one of 0..4"))
    elif rm_type in ("DV_ORDINAL", "DV_SCALE") and not _is_number(value):
        errors.append(("/value", f"{rm_type}.value must be a number"))
    return errors
