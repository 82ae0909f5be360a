"""Data values ↔ FLAT suffixes (``|magnitude``, ``|unit``, ``|code``, ``|value``...).

``encode`` turns the suffix values of one FLAT leaf (``""`` is the bare key) into the RM
value; ``decode`` is its inverse. Both are driven by the web template node, which knows
the template's code lists (labels, ordinals, terminology)."""

from __future__ import annotations

import re
from typing import Any

from ..domain.datatypes import parse_temporal
from .errors import CodecError
from .model import WebNode
from .rmattrs import party_ref
from .terminology import openehr_rubric

__all__ = ["CodecError", "decode", "encode", "is_leaf"]

Values = dict[str, Any]
_OPENEHR_CODED = {"setting", "category", "math_function", "current_state", "transition"}
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_DURATION_FIELDS = ("year", "month", "week", "day", "hour", "minute", "second")


def is_leaf(node: WebNode) -> bool:
    return node.rm_type.startswith(("DV_", "PARTY_PROXY", "CODE_PHRASE", "STRING")) and not (
        node.rm_type.startswith("DV_INTERVAL")
    )


def _number(value: Any, suffix: str, *, integer: bool = False) -> int | float:
    if isinstance(value, bool):
        raise CodecError(f"|{suffix} must be a number, not {value!r}", suffix=suffix)
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(str(value))
        except ValueError:
            raise CodecError(f"|{suffix} must be a number, not {value!r}", suffix=suffix) from None
    if integer:
        if float(number) != int(number):
            raise CodecError(f"|{suffix} must be an integer, not {value!r}", suffix=suffix)
        return int(number)
    return number


def _bool(value: Any, suffix: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise CodecError(f"|{suffix} must be true or false, not {value!r}", suffix=suffix)


def _str(value: Any, suffix: str) -> str:
    if isinstance(value, dict | list):
        raise CodecError(f"|{suffix} must be a string")
    return (
        value
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def _take(values: Values, *names: str) -> Any:
    for name in names:
        if name in values:
            return values.pop(name)
    return None


def _code_list(node: WebNode) -> tuple[dict[str, dict[str, Any]], str | None]:
    for i in node.inputs:
        if i.get("suffix", "") in ("code", "") and ("list" in i or "terminology" in i):
            return {str(item["value"]): item for item in i.get("list", [])}, i.get("terminology")
    return {}, None


def _coded(node: WebNode, v: Values) -> dict[str, Any]:
    other = _take(v, "|other")
    code = _take(v, "|code", "")
    value = _take(v, "|value")
    term = _take(v, "|terminology")
    if code is None:
        if other is not None:
            return {"_type": "DV_TEXT", "value": _str(other, "other")}
        if value is not None:
            return {"_type": "DV_TEXT", "value": _str(value, "value")}
        raise CodecError("|code is missing")
    code = _str(code, "code")
    listed, terminology = _code_list(node)
    if listed and code not in listed and not any(i.get("listOpen") for i in node.inputs):
        raise CodecError(f"code {code!r} is not one of {sorted(listed)}")
    if term is None:
        term = terminology or ("openehr" if node.id in _OPENEHR_CODED else None)
    if term is None:
        raise CodecError("|terminology is missing")
    if value is None:
        value = listed[code]["label"] if code in listed else None
        if value is None and term == "openehr":
            value = openehr_rubric(code)
        if value is None:
            raise CodecError("|value is missing")
    return {
        "_type": "DV_CODED_TEXT",
        "value": _str(value, "value"),
        "defining_code": {
            "_type": "CODE_PHRASE",
            "terminology_id": {"_type": "TERMINOLOGY_ID", "value": _str(term, "terminology")},
            "code_string": code,
        },
    }


def _duration(v: Values) -> str:
    bare = _take(v, "", "|value")
    if bare is not None:
        return _str(bare, "value")
    parts = {f: _take(v, f"|{f}") for f in _DURATION_FIELDS}
    if all(p is None for p in parts.values()):
        raise CodecError("a duration needs a value or |year...|second")
    n = {f: _number(p, f, integer=f != "second") for f, p in parts.items() if p is not None}
    date = "".join(
        f"{n[f]}{u}" for f, u in zip(_DURATION_FIELDS[:4], "YMWD", strict=True) if f in n
    )
    time = "".join(f"{n[f]}{u}" for f, u in zip(_DURATION_FIELDS[4:], "HMS", strict=True) if f in n)
    return "P" + date + ("T" + time if time else "")


def _party(v: Values) -> dict[str, Any]:
    out: dict[str, Any] = {"_type": "PARTY_SELF"}
    name = _take(v, "|name")
    pid, scheme, ns = _take(v, "|id"), _take(v, "|id_scheme"), _take(v, "|id_namespace")
    if name is not None:
        out = {"_type": "PARTY_IDENTIFIED", "name": _str(name, "name")}
    if pid is not None:
        out["external_ref"] = party_ref(_str(pid, "id"), scheme, ns)
    return out


def encode(node: WebNode, values: Values) -> Any:
    """The RM value of a FLAT leaf; consumed suffixes are removed from ``values``."""
    t = node.rm_type
    v = values
    if t == "STRING":
        return _str(_take(v, "", "|value"), "value")
    if t == "DV_TEXT" and ("|code" in v or "|terminology" in v):
        return _coded(node, v)  # a DV_CODED_TEXT where the template allows any DV_TEXT
    if t in ("DV_CODED_TEXT", "DV_STATE"):
        coded = _coded(node, v)
        if t == "DV_STATE":
            return {"_type": "DV_STATE", "value": coded, "is_terminal": False}
        return coded
    if t == "PARTY_PROXY":
        return _party(v)
    if t == "CODE_PHRASE":
        return {
            "_type": "CODE_PHRASE",
            "terminology_id": {
                "_type": "TERMINOLOGY_ID",
                "value": _str(_take(v, "|terminology"), "terminology"),
            },
            "code_string": _str(_take(v, "|code", ""), "code"),
        }
    if t == "DV_DURATION":
        return {"_type": t, "value": _temporal(t, _duration(v))}
    if t == "DV_ORDINAL":
        return _ordinal(node, v)
    out: dict[str, Any] = {"_type": t}
    for suffix, (attr, kind) in _SIMPLE.get(t, {}).items():
        raw = _take(v, suffix) if suffix else _take(v, "", "|value")
        if raw is None:
            continue
        out[attr] = _convert(raw, kind, suffix.lstrip("|") or "value")
        if t in _TEMPORAL and attr == "value":
            _temporal(t, out[attr])
    if t == "DV_MULTIMEDIA":
        uri = out.pop("uri", None)
        if uri is not None:
            out["uri"] = {"_type": "DV_URI", "value": uri}
        mt = out.pop("media_type", None)
        out["media_type"] = {
            "_type": "CODE_PHRASE",
            "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "IANA_media-types"},
            "code_string": mt or "application/octet-stream",
        }
        if "alternate_text" in out:
            out["alternate_text"] = out["alternate_text"]
    if t == "DV_PARSABLE" and "formalism" not in out:
        if node.id != "timing":
            raise CodecError("|formalism is missing")
        out["formalism"] = "timing"  # ACTIVITY.timing: the FLAT format's default formalism
    if t == "DV_PROPORTION":
        _check_ratio(out, _take(v, "", "|value"))
    if len(out) == 1 and t != "DV_MULTIMEDIA":
        raise CodecError("no value given")
    return out


_TEMPORAL = {"DV_DATE_TIME", "DV_DATE", "DV_TIME"}


def _temporal(rm_type: str, value: str) -> str:
    if not parse_temporal(rm_type, value):
        raise CodecError(f"{value!r} is not an ISO 8601 {rm_type[3:].lower().replace('_', ' ')}")
    return value


def _check_ratio(out: dict[str, Any], ratio: Any) -> None:
    """The bare value of a proportion is its ratio: accepted when it agrees, never dropped
    silently when it does not."""
    if ratio is None:
        return
    num, den = out.get("numerator"), out.get("denominator")
    value = _number(ratio, "value")
    if num is None or not den or abs(num / den - value) > 1e-6 * max(1.0, abs(value)):
        raise CodecError(f"the ratio {ratio} does not agree with |numerator and |denominator")


def _convert(raw: Any, kind: str, suffix: str) -> Any:
    if kind == "num":
        return _number(raw, suffix)
    if kind == "int":
        return _number(raw, suffix, integer=True)
    if kind == "bool":
        return _bool(raw, suffix)
    return _str(raw, suffix)


def _ordinal(node: WebNode, v: Values) -> dict[str, Any]:
    code = _take(v, "|code", "")
    value, ordinal, term = (
        _take(v, "|value"),
        _take(v, "|ordinal"),
        _take(v, "|terminology", "|terminology_id"),
    )
    listed = {str(i["value"]): i for inp in node.inputs for i in inp.get("list", [])}
    if code is None:
        raise CodecError("|code is missing")
    code = _str(code, "code")
    if listed and code not in listed:
        raise CodecError(f"code {code!r} is not one of {sorted(listed)}")
    item = listed.get(code, {})
    if ordinal is None:
        ordinal = item.get("ordinal")
    if value is None:
        value = item.get("label")
    if term is None:
        term = "local"
    if ordinal is None or value is None:
        raise CodecError("|ordinal and |value are needed for an unlisted code")
    if item and _number(ordinal, "ordinal", integer=True) != item.get("ordinal"):
        raise CodecError(f"|ordinal of {code} is {item.get('ordinal')}, not {ordinal}")
    return {
        "_type": "DV_ORDINAL",
        "value": _number(ordinal, "ordinal", integer=True),
        "symbol": {
            "_type": "DV_CODED_TEXT",
            "value": _str(value, "value"),
            "defining_code": {
                "_type": "CODE_PHRASE",
                "terminology_id": {"_type": "TERMINOLOGY_ID", "value": _str(term, "terminology")},
                "code_string": code,
            },
        },
    }


# suffix ("" = bare) -> (RM attribute, kind)
_SIMPLE: dict[str, dict[str, tuple[str, str]]] = {
    "DV_TEXT": {"": ("value", "str")},
    "DV_QUANTITY": {
        "|magnitude": ("magnitude", "num"),
        "|unit": ("units", "str"),
        "|precision": ("precision", "int"),
    },
    "DV_COUNT": {"": ("magnitude", "int"), "|magnitude": ("magnitude", "int")},
    "DV_BOOLEAN": {"": ("value", "bool")},
    "DV_DATE_TIME": {"": ("value", "str")},
    "DV_DATE": {"": ("value", "str")},
    "DV_TIME": {"": ("value", "str")},
    "DV_URI": {"": ("value", "str")},
    "DV_EHR_URI": {"": ("value", "str")},
    "DV_PARSABLE": {"": ("value", "str"), "|formalism": ("formalism", "str")},
    "DV_IDENTIFIER": {
        "|id": ("id", "str"),  # written |id, as the web template's inputs list it
        "": ("id", "str"),
        "|issuer": ("issuer", "str"),
        "|assigner": ("assigner", "str"),
        "|type": ("type", "str"),
    },
    "DV_PROPORTION": {
        "|numerator": ("numerator", "num"),
        "|denominator": ("denominator", "num"),
        "|type": ("type", "int"),
        "|precision": ("precision", "int"),
    },
    "DV_MULTIMEDIA": {
        "": ("uri", "str"),
        "|mediatype": ("media_type", "str"),
        "|size": ("size", "int"),
        "|alternatetext": ("alternate_text", "str"),
        "|data": ("data", "str"),
    },
}


def _code(cp: Any) -> tuple[Any, Any]:
    cp = cp if isinstance(cp, dict) else {}
    return cp.get("code_string"), (cp.get("terminology_id") or {}).get("value")


def decode(node: WebNode, value: Any) -> Values:
    """The FLAT suffix values of an RM value (inverse of :func:`encode`)."""
    t = node.rm_type
    if t == "STRING":
        return {"": value}
    if not isinstance(value, dict):
        return {"": value}
    kind = value.get("_type", t)
    if kind == "DV_STATE":
        inner = decode(node, value.get("value"))
        return inner
    if kind == "DV_CODED_TEXT":
        code, term = _code(value.get("defining_code"))
        return {"|code": code, "|value": value.get("value"), "|terminology": term}
    if kind == "DV_TEXT" and t == "DV_CODED_TEXT":
        return {"|other": value.get("value")}
    if kind in ("PARTY_SELF", "PARTY_IDENTIFIED", "PARTY_RELATED", "PARTY_PROXY"):
        out: Values = {}
        ref = value.get("external_ref") or {}
        if ref:
            out["|id"] = (ref.get("id") or {}).get("value")
            if (ref.get("id") or {}).get("scheme") is not None:
                out["|id_scheme"] = ref["id"]["scheme"]
            out["|id_namespace"] = ref.get("namespace")
        if "name" in value:
            out["|name"] = value["name"]
        return out
    if kind == "CODE_PHRASE":
        code, term = _code(value)
        return {"|code": code, "|terminology": term}
    if kind == "DV_ORDINAL":
        symbol = value.get("symbol") or {}
        code, term = _code(symbol.get("defining_code"))
        return {
            "|code": code,
            "|value": symbol.get("value"),
            "|ordinal": value.get("value"),
            "|terminology": term,
        }
    if kind == "DV_DURATION":
        return {"": value.get("value")}
    out = {}
    seen: set[str] = set()
    for suffix, (attr, _) in _SIMPLE.get(kind, {}).items():
        if attr in value and attr not in seen:
            seen.add(attr)
            raw = value[attr]
            if kind == "DV_MULTIMEDIA" and attr == "uri":
                raw = (raw or {}).get("value")
            if kind == "DV_MULTIMEDIA" and attr == "media_type":
                raw = _code(raw)[0]
            out[suffix] = raw
    return out
