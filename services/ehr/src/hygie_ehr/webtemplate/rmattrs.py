"""The ``_``-prefixed FLAT attributes: RM attributes a web template does not show as nodes
(``_uid``, ``_link``, ``_end_time``, ``_health_care_facility``, ``_participation``,
``_other_participation``, ``_work_flow_id``, ``_guideline_id``, ``_instruction_details``,
``_wf_definition``, ``_null_flavour``, ``_name``)."""

from __future__ import annotations

from typing import Any

from .errors import CodecError

__all__ = ["ATTRS", "decode_attr", "encode_attr"]

Values = dict[str, Any]


def _s(v: Values, key: str, *, required: bool = False) -> Any:
    value = v.pop(key, None)
    if value is None and required:
        raise CodecError(f"{key} is missing")
    if isinstance(value, dict | list):
        raise CodecError(f"{key} must be a scalar")
    return value


def _text(value: Any) -> dict[str, Any]:
    return {"_type": "DV_TEXT", "value": str(value)}


def party_ref(pid: Any, scheme: Any, namespace: Any, kind: str = "PERSON") -> dict[str, Any]:
    """PARTY_REF of FLAT ``|id``, ``|id_scheme``, ``|id_namespace`` (a GENERIC_ID when a
    scheme is given, else a HIER_OBJECT_ID)."""
    ident: dict[str, Any] = {"_type": "HIER_OBJECT_ID", "value": str(pid)}
    if scheme is not None:
        ident = {"_type": "GENERIC_ID", "value": str(pid), "scheme": str(scheme)}
    return {
        "_type": "PARTY_REF",
        "id": ident,
        "namespace": str(namespace) if namespace is not None else "local",
        "type": kind,
    }


def _party(v: Values, kind: str = "PERSON") -> dict[str, Any]:
    out: dict[str, Any] = {"_type": "PARTY_IDENTIFIED"}
    if (name := _s(v, "|name")) is not None:
        out["name"] = name
    if (pid := _s(v, "|id")) is not None:
        out["external_ref"] = party_ref(pid, _s(v, "|id_scheme"), _s(v, "|id_namespace"), kind)
    return out


def _party_back(p: dict[str, Any]) -> Values:
    out: Values = {}
    ref = p.get("external_ref") or {}
    if ref:
        out["|id"] = (ref.get("id") or {}).get("value")
        out["|id_scheme"] = (ref.get("id") or {}).get("scheme")
        out["|id_namespace"] = ref.get("namespace")
    if "name" in p:
        out["|name"] = p["name"]
    return {k: val for k, val in out.items() if val is not None}


def _participation(v: Values) -> dict[str, Any]:
    out: dict[str, Any] = {"_type": "PARTICIPATION"}
    out["function"] = _text(_s(v, "|function", required=True))
    mode, mode_code = _s(v, "|mode"), _s(v, "|mode_code")
    if mode_code is not None:
        out["mode"] = {
            "_type": "DV_CODED_TEXT",
            "value": str(mode if mode is not None else mode_code),
            "defining_code": {
                "_type": "CODE_PHRASE",
                "terminology_id": {"_type": "TERMINOLOGY_ID", "value": "openehr"},
                "code_string": str(mode_code),
            },
        }
    elif mode is not None:
        out["mode"] = _text(mode)
    out["performer"] = _party(v)
    return out


def _participation_back(p: dict[str, Any]) -> Values:
    out = _party_back(p.get("performer") or {})
    out["|function"] = (p.get("function") or {}).get("value")
    if p.get("mode"):
        out["|mode"] = p["mode"].get("value")
        code = (p["mode"].get("defining_code") or {}).get("code_string")
        if code is not None:
            out["|mode_code"] = code
    return out


def _object_ref(v: Values) -> dict[str, Any]:
    return {
        "_type": "OBJECT_REF",
        "id": {
            "_type": "GENERIC_ID",
            "value": str(_s(v, "|id", required=True)),
            "scheme": _s(v, "|id_scheme") or "id_scheme",
        },
        "namespace": _s(v, "|namespace") or "local",
        "type": _s(v, "|type") or "ANY",
    }


def _object_ref_back(r: dict[str, Any]) -> Values:
    ident = r.get("id") or {}
    return {
        "|id": ident.get("value"),
        "|id_scheme": ident.get("scheme"),
        "|namespace": r.get("namespace"),
        "|type": r.get("type"),
    }


def _link(v: Values) -> dict[str, Any]:
    return {
        "_type": "LINK",
        "meaning": _text(_s(v, "|meaning", required=True)),
        "type": _text(_s(v, "|type", required=True)),
        "target": {"_type": "DV_EHR_URI", "value": str(_s(v, "|target", required=True))},
    }


def _link_back(link: dict[str, Any]) -> Values:
    return {
        "|meaning": (link.get("meaning") or {}).get("value"),
        "|type": (link.get("type") or {}).get("value"),
        "|target": (link.get("target") or {}).get("value"),
    }


def _instruction_details(v: Values) -> dict[str, Any]:
    return {
        "_type": "INSTRUCTION_DETAILS",
        "instruction_id": {
            "_type": "LOCATABLE_REF",
            "id": {
                "_type": "OBJECT_VERSION_ID",
                "value": str(_s(v, "|composition_uid", required=True)),
            },
            "namespace": "local",
            "type": "INSTRUCTION",
            "path": str(_s(v, "|path", required=True)),
        },
        "activity_id": str(_s(v, "|activity_id") or "activities[at0001]"),
    }


def _instruction_details_back(d: dict[str, Any]) -> Values:
    ref = d.get("instruction_id") or {}
    return {
        "|composition_uid": (ref.get("id") or {}).get("value"),
        "|path": ref.get("path"),
        "|activity_id": d.get("activity_id"),
    }


def _coded(v: Values) -> dict[str, Any]:
    code = _s(v, "|code", required=True)
    return {
        "_type": "DV_CODED_TEXT",
        "value": str(_s(v, "|value", required=True)),
        "defining_code": {
            "_type": "CODE_PHRASE",
            "terminology_id": {
                "_type": "TERMINOLOGY_ID",
                "value": str(_s(v, "|terminology") or "openehr"),
            },
            "code_string": str(code),
        },
    }


def _coded_back(c: dict[str, Any]) -> Values:
    cp = c.get("defining_code") or {}
    return {
        "|code": cp.get("code_string"),
        "|value": c.get("value"),
        "|terminology": (cp.get("terminology_id") or {}).get("value"),
    }


def _uid(value: Any) -> dict[str, Any]:
    """A version uid (``id::system::n``) is an OBJECT_VERSION_ID, anything else a
    HIER_OBJECT_ID."""
    kind = "OBJECT_VERSION_ID" if "::" in str(value) else "HIER_OBJECT_ID"
    return {"_type": kind, "value": str(value)}


def _scalar(v: Values) -> Any:
    return _s(v, "", required=True)


# name -> (RM attribute, list?, encode, decode, kind of bare value wrapper)
ATTRS: dict[str, tuple[str, bool, Any, Any]] = {
    "_uid": ("uid", False, lambda v: _uid(_scalar(v)), lambda u: {"": u.get("value")}),
    "_name": ("name", False, lambda v: _text(_scalar(v)), lambda n: {"": n.get("value")}),
    "_link": ("links", True, _link, _link_back),
    "_end_time": (
        "end_time",
        False,
        lambda v: {"_type": "DV_DATE_TIME", "value": str(_scalar(v))},
        lambda t: {"": t.get("value")},
    ),
    "_location": ("location", False, lambda v: str(_scalar(v)), lambda loc: {"": loc}),
    "_health_care_facility": (
        "health_care_facility",
        False,
        lambda v: _party(v, "ORGANISATION"),
        _party_back,
    ),
    "_participation": ("participations", True, _participation, _participation_back),
    "_provider": ("provider", False, _party, _party_back),
    "_other_participation": ("other_participations", True, _participation, _participation_back),
    "_work_flow_id": ("workflow_id", False, _object_ref, _object_ref_back),
    "_guideline_id": ("guideline_id", False, _object_ref, _object_ref_back),
    "_instruction_details": (
        "instruction_details",
        False,
        _instruction_details,
        _instruction_details_back,
    ),
    "_wf_definition": (
        "wf_definition",
        False,
        lambda v: {
            "_type": "DV_PARSABLE",
            "value": str(_s(v, "|value", required=True)),
            "formalism": str(_s(v, "|formalism", required=True)),
        },
        lambda p: {"|value": p.get("value"), "|formalism": p.get("formalism")},
    ),
    "_null_flavour": ("null_flavour", False, _coded, _coded_back),
}


def encode_attr(key: str, obj: dict[str, Any], instances: list[Values]) -> None:
    """Set the RM attribute behind ``key`` on ``obj`` from its FLAT instances."""
    attr, many, enc, _ = ATTRS[key]
    if many:
        obj[attr] = [enc(v) for v in instances]
    else:
        if len(instances) != 1:
            raise CodecError(f"{key} takes one value")
        obj[attr] = enc(instances[0])


def decode_attr(key: str, obj: dict[str, Any]) -> list[Values] | None:
    attr, many, _, dec = ATTRS[key]
    value = obj.get(attr)
    if value is None:
        return None
    items = value if many else [value]
    return [{k: x for k, x in dec(item).items() if x is not None} for item in items]
