"""The ``inputs`` of a web template leaf: which suffixes a form (and a FLAT document)
fills for a data value type, with the template's code lists, units and ranges."""

from __future__ import annotations

from typing import Any

from ..domain.opt import CObject, Interval
from .terminology import openehr_rubric

__all__ = ["code_item", "inputs_for", "proportion_types"]

_SIMPLE = {
    "DV_TEXT": "TEXT",
    "DV_BOOLEAN": "BOOLEAN",
    "DV_DATE_TIME": "DATETIME",
    "DV_DATE": "DATE",
    "DV_TIME": "TIME",
    "DV_URI": "TEXT",
    "DV_EHR_URI": "TEXT",
    "DV_MULTIMEDIA": "TEXT",
    "DV_COUNT": "INTEGER",
    "STRING": "TEXT",
}
_SUFFIXED = {
    "DV_PARSABLE": (("value", "TEXT"), ("formalism", "TEXT")),
    "DV_STATE": (("code", "TEXT"), ("value", "TEXT")),
    "DV_IDENTIFIER": (("id", "TEXT"), ("type", "TEXT"), ("issuer", "TEXT"), ("assigner", "TEXT")),
    "PARTY_PROXY": (
        ("id", "TEXT"),
        ("id_scheme", "TEXT"),
        ("id_namespace", "TEXT"),
        ("name", "TEXT"),
    ),
    "DV_PROPORTION": (("numerator", "DECIMAL"), ("denominator", "DECIMAL")),
}
_DURATION_FIELDS = ("year", "month", "day", "week", "hour", "minute", "second")
_PROPORTION_KINDS = ("ratio", "unitary", "percent", "fraction", "integer_fraction")


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _range(interval: Interval | None, *, integer: bool = False) -> dict[str, Any] | None:
    if interval is None or (interval.lower is None and interval.upper is None):
        return None
    out: dict[str, Any] = {}
    if interval.lower is not None:
        out["min"] = int(interval.lower) if integer else float(interval.lower)
        out["minOp"] = ">=" if interval.lower_included else ">"
    if interval.upper is not None:
        out["max"] = int(interval.upper) if integer else float(interval.upper)
        out["maxOp"] = "<=" if interval.upper_included else "<"
    return out


def _attr_child(c: CObject | None, name: str) -> CObject | None:
    attr = c.attribute(name) if c is not None else None
    return attr.children[0] if attr is not None and attr.children else None


def _term(c: CObject, code: str) -> str:
    root = c.root
    return (root.terms.get(code) if root else None) or code


def _coded(c: CObject | None, language: str, terms: dict[str, str]) -> list[dict[str, Any]]:
    phrase = _attr_child(c, "defining_code")
    if phrase is None and c is not None and c.attribute("defining_code") is None:
        # a DV_CODED_TEXT the template names without a code constraint: EHRbase lists the
        # text first
        return [{"suffix": "value", "type": "TEXT"}, {"suffix": "code", "type": "TEXT"}]
    uri = phrase.reference_set_uri if phrase is not None else None
    if phrase is not None and not phrase.terminology and uri:
        term = uri.removeprefix("terminology:")
        return [
            {"suffix": "code", "type": "TEXT", "terminology": term},
            {"suffix": "value", "type": "TEXT", "terminology": term},
        ]
    if phrase is None or not phrase.terminology:
        return [{"suffix": "code", "type": "TEXT"}, {"suffix": "value", "type": "TEXT"}]
    term = phrase.terminology
    if not phrase.codes:
        return [
            {"suffix": "code", "type": "TEXT", "terminology": term},
            {"suffix": "value", "type": "TEXT", "terminology": term},
        ]
    items = []
    for code in phrase.codes:
        items.append(code_item(phrase, term, code, language, terms))
    out: dict[str, Any] = {"suffix": "code", "type": "CODED_TEXT", "list": items}
    out["terminology"] = term
    if phrase.assumed_code:
        out["defaultValue"] = phrase.assumed_code
    return [out]


def code_item(
    phrase: CObject, term: str, code: str, language: str, terms: dict[str, str]
) -> dict[str, Any]:
    """One entry of a code list: its label in the template language (local terms, openEHR
    rubrics, or the template's ``TERMINOLOGY::code`` term definitions) and description."""
    root = phrase.root
    if term == "local":
        label = _term(phrase, code)
    elif term == "openehr":
        label = openehr_rubric(code) or code
    else:
        key = f"{term}::{code}"
        label = (root.terms.get(key) if root else None) or terms.get(key) or code
    item: dict[str, Any] = {"value": code, "label": label, "localizedLabels": {language: label}}
    if term == "local":
        described = root.descriptions.get(code) if root is not None else None
        if described:
            item["localizedDescriptions"] = {language: described}
    elif term != "openehr" and label != code:  # a term the template defines: EHRbase shows
        key = f"{term}::{code}"  # its (usually absent) description
        described = (root.descriptions.get(key) if root else None) or ""
        item["localizedDescriptions"] = {language: described}
    return item


def _quantity(c: CObject | None) -> list[dict[str, Any]]:
    q = _attr_child(c, "units") if c is not None and c.kind != "C_DV_QUANTITY" else c
    magnitude: dict[str, Any] = {"suffix": "magnitude", "type": "DECIMAL"}
    unit: dict[str, Any] = {"suffix": "unit", "type": "TEXT" if q is None else "CODED_TEXT"}
    if q is not None and q.kind == "C_DV_QUANTITY" and q.quantities:
        items = []
        for item in q.quantities:
            entry: dict[str, Any] = {"value": item.units, "label": item.units}
            validation: dict[str, Any] = {}
            if (r := _range(item.precision, integer=True)) is not None:
                validation["precision"] = r
            if (r := _range(item.magnitude)) is not None:
                validation["range"] = r
            if validation:
                entry["validation"] = validation
            items.append(entry)
        unit["list"] = items
        if len(q.quantities) == 1 and "validation" in items[0]:
            magnitude["validation"] = items[0]["validation"]
    return [magnitude, unit]


def _ordinal(c: CObject | None, language: str) -> list[dict[str, Any]]:
    out: dict[str, Any] = {"type": "CODED_TEXT"}
    if c is not None and c.ordinals:
        out["list"] = [
            {
                "value": code,
                "label": _term(c, code),
                "localizedLabels": {language: _term(c, code)},
                "ordinal": value,
            }
            for value, _, code in c.ordinals
        ]
    return [out]


def _primitive_list(c: CObject | None, attr: str) -> list[Any]:
    p = _attr_child(c, attr)
    return list(p.primitive.values) if p is not None and p.primitive is not None else []


def _primitive_range(c: CObject | None, attr: str) -> Interval | None:
    p = _attr_child(c, attr)
    return p.primitive.range if p is not None and p.primitive is not None else None


def _duration_fields(c: CObject | None) -> tuple[str, ...]:
    """The fields a C_DURATION pattern (``PYMWDTHMS`` letters) allows; all without one."""
    p = _attr_child(c, "value")
    pattern = (p.primitive.pattern if p is not None and p.primitive is not None else None) or ""
    if not pattern.upper().startswith("P"):
        return _DURATION_FIELDS
    date, _, time = pattern.upper()[1:].partition("T")
    letters = {"Y": "year", "M": "month", "W": "week", "D": "day"}
    fields = {letters[x] for x in date if x in letters}
    fields |= {{"H": "hour", "M": "minute", "S": "second"}[x] for x in time if x in "HMS"}
    return tuple(f for f in _DURATION_FIELDS if f in fields) or _DURATION_FIELDS


#: seconds per duration field (a month as 30 days, a year as 365, as ISO 8601 durations
#: are compared by the validator)
_SECONDS = {
    "year": 365 * 86400,
    "month": 30 * 86400,
    "week": 7 * 86400,
    "day": 86400,
    "hour": 3600,
    "minute": 60,
    "second": 1,
}


def _duration(c: CObject | None) -> list[dict[str, Any]]:
    """One INTEGER input per allowed field, each at least 0; a range of the template puts
    its exclusive lower bound on the smallest field and its upper bound on the largest
    field it is a whole number of (EHRbase shows ``PT24H`` as ``hour <= 24``)."""
    fields = _duration_fields(c)
    rng = _primitive_range(c, "value")
    strict = rng is not None and rng.lower is not None and not rng.lower_included
    smallest = min(fields, key=_SECONDS.__getitem__)
    top = None
    if rng is not None and rng.upper is not None and rng.upper > 0:
        top = next(
            (f for f in sorted(fields, key=lambda f: -_SECONDS[f]) if rng.upper % _SECONDS[f] == 0),
            None,
        )
    out = []
    for f in fields:
        r: dict[str, Any] = {"min": 0, "minOp": ">" if strict and f == smallest else ">="}
        if top == f and rng is not None and rng.upper is not None:
            r["max"] = int(rng.upper // _SECONDS[f])
            r["maxOp"] = "<=" if rng.upper_included else "<"
        out.append({"suffix": f, "type": "INTEGER", "validation": {"range": r}})
    return out


def _booleans(c: CObject | None) -> list[str]:
    """The allowed values of a DV_BOOLEAN when the template allows only one."""
    p = _attr_child(c, "value")
    if p is None or p.primitive is None or (p.primitive.true_valid and p.primitive.false_valid):
        return []
    return [
        v for v, ok in (("true", p.primitive.true_valid), ("false", p.primitive.false_valid)) if ok
    ]


def proportion_types(c: CObject | None) -> list[str]:
    kinds = [int(v) for v in _primitive_list(c, "type") if str(v).lstrip("-").isdigit()]
    if not kinds:
        return list(_PROPORTION_KINDS)
    return [_PROPORTION_KINDS[k] for k in kinds if 0 <= k < len(_PROPORTION_KINDS)]


def inputs_for(
    rm_type: str, c: CObject | None, language: str, terms: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The inputs of a leaf of ``rm_type`` constrained by ``c`` (None: unconstrained);
    ``terms``: the template's own term definitions (labels of external codes)."""
    if rm_type == "DV_CODED_TEXT":
        return _coded(c, language, terms or {})
    if rm_type == "DV_QUANTITY":
        return _quantity(c)
    if rm_type == "DV_ORDINAL":
        return _ordinal(c, language)
    if rm_type == "DV_DURATION":
        return _duration(c)
    if rm_type == "DV_PROPORTION":
        out_p = []
        for part in ("numerator", "denominator"):
            entry: dict[str, Any] = {"suffix": part, "type": "DECIMAL"}
            rng = _primitive_range(c, part)
            fixed = {"unitary": 1.0, "percent": 100.0}
            kinds = proportion_types(c)
            if rng is None and part == "denominator" and len(kinds) == 1 and kinds[0] in fixed:
                rng = Interval(fixed[kinds[0]], fixed[kinds[0]])  # the RM fixes it
            if (r := _range(rng)) is not None:
                entry["validation"] = {"range": r}
            out_p.append(entry)
        return out_p
    if rm_type in _SUFFIXED:
        return [{"suffix": s, "type": t} for s, t in _SUFFIXED[rm_type]]
    if rm_type in _SIMPLE:
        out: dict[str, Any] = {"type": _SIMPLE[rm_type]}
        if rm_type == "DV_TEXT" and (values := _primitive_list(c, "value")):
            out["list"] = [{"value": v, "label": v} for v in values]
            out["listOpen"] = False
        if rm_type == "DV_BOOLEAN" and (allowed := _booleans(c)):
            out["list"] = [{"value": v, "label": v} for v in allowed]
        if rm_type == "DV_COUNT" and (r := _range(_primitive_range(c, "magnitude"), integer=True)):
            out["validation"] = {"range": r}
        return [out]
    return []
