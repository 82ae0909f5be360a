"""Canonical JSON of RM objects the store keeps as columns rather than documents: EHR and
ORIGINAL_VERSION (its audit, contribution and data), as constant SQL; and ``typed``, which
names the ``_type`` of untyped polymorphic values in a result."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["attribute_of", "ehr_json", "typed", "typed_value", "version_json"]


def _iso(column: str) -> str:
    # as the REST API writes it (Python's isoformat of a UTC instant)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


def _obj(type_: str, **fields: str) -> str:
    args = ", ".join(f"'{k}', {v}" for k, v in fields.items())
    return f"jsonb_build_object('_type', '{type_}', {args})"


def ehr_json(a: str) -> str:
    return _obj(
        "EHR",
        system_id=_obj("HIER_OBJECT_ID", value=f"{a}.system_id"),
        ehr_id=_obj("HIER_OBJECT_ID", value=f"{a}.ehr_id::text"),
        ehr_status=(
            "jsonb_build_object('_type', 'OBJECT_REF', 'id', "
            f"{_obj('HIER_OBJECT_ID', value=f'{a}.ehr_status_id::text')}, "
            "'namespace', 'local', 'type', 'EHR_STATUS')"
        ),
        time_created=_obj("DV_DATE_TIME", value=_iso(f"{a}.time_created")),
    )


_CHANGE_CODES = (
    "CASE {c} WHEN 'creation' THEN '249' WHEN 'amendment' THEN '250' "
    "WHEN 'modification' THEN '251' WHEN 'synthesis' THEN '252' WHEN 'deleted' THEN '523' "
    "WHEN 'attestation' THEN '666' ELSE '253' END"
)
_LIFECYCLE_CODES = (
    "CASE {c} WHEN 'complete' THEN '532' WHEN 'incomplete' THEN '553' "
    "WHEN 'deleted' THEN '523' ELSE '532' END"
)


def _coded(value: str, code: str) -> str:
    phrase = _obj(
        "CODE_PHRASE",
        terminology_id=_obj("TERMINOLOGY_ID", value="'openehr'"),
        code_string=code,
        preferred_term=value,
    )
    return _obj("DV_CODED_TEXT", value=value, defining_code=phrase)


def version_json(a: str) -> str:
    system = f"(SELECT system_id FROM contribution WHERE contribution_id = {a}.contribution_id)"
    description = (
        f"CASE WHEN {a}.description IS NOT NULL THEN "
        f"jsonb_build_object('_type', 'DV_TEXT', 'value', {a}.description) END"
    )
    change = _coded(f"{a}.change_type", _CHANGE_CODES.format(c=f"{a}.change_type"))
    audit = _obj(
        "AUDIT_DETAILS",
        system_id=system,
        time_committed=_obj("DV_DATE_TIME", value=_iso(f"{a}.time_committed")),
        change_type=change,
        committer=f"{a}.committer",
        description=description,
    )
    audit = f"jsonb_strip_nulls({audit})"
    uid = _obj(
        "OBJECT_VERSION_ID", value=f"{a}.vo_id::text || '::' || {system} || '::' || {a}.version"
    )
    contribution = (
        "jsonb_build_object('_type', 'OBJECT_REF', 'id', "
        f"{_obj('HIER_OBJECT_ID', value=f'{a}.contribution_id::text')}, "
        "'namespace', 'local', 'type', 'CONTRIBUTION')"
    )
    lifecycle = _coded(f"{a}.lifecycle_state", _LIFECYCLE_CODES.format(c=f"{a}.lifecycle_state"))
    return _obj(
        "ORIGINAL_VERSION",
        uid=uid,
        contribution=contribution,
        commit_audit=audit,
        lifecycle_state=lifecycle,
        data=f"{a}.data",
    )


#: attributes whose declared RM type is abstract or has subtypes, with the concrete type an
#: untyped value of them has (the store keeps EHR_STATUS and FOLDER bodies as submitted,
#: where ``_type`` may be left out); canonical JSON names the type of such values
_IMPLIED = {
    "subject": "PARTY_SELF",  # PARTY_PROXY: PARTY_SELF when it carries no identity
    "external_ref": "PARTY_REF",
}


def typed(value: Any, attribute: str | None = None) -> Any:
    """``value`` (JSON) with the ``_type`` of untyped polymorphic attributes made explicit:
    ``name`` (DV_TEXT, DV_CODED_TEXT when it has a ``defining_code``), ``subject``,
    ``external_ref``, and the OBJECT_REFs of a folder's ``items``."""
    if isinstance(value, list):
        return [typed(v, attribute) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: typed(v, k) for k, v in value.items()}
    if "_type" not in out:
        implied = _IMPLIED.get(attribute or "")
        if attribute == "name" and isinstance(out.get("value"), str):
            implied = "DV_CODED_TEXT" if "defining_code" in out else "DV_TEXT"
        elif attribute == "items" and {"id", "namespace", "type"} <= out.keys():
            implied = "OBJECT_REF"

        if implied:
            out = {"_type": implied, **out}
    return out


def typed_value(value: Any, attribute: str | None = None) -> Any:
    """A selected value as ``typed`` gives it, and, when it is itself a HISTORY kept
    without ``_type`` (the only RM class with ``events``), typed too: EHRbase names the
    type of a selected HISTORY, not of one nested in a selected OBSERVATION."""
    out = typed(value, attribute)
    if isinstance(out, dict) and "_type" not in out and "events" in out:
        out = {"_type": "HISTORY", **out}
    return out


def attribute_of(path: str | None) -> str | None:
    """The last RM attribute of an identified path (``o/items[at0004]/value`` → ``value``)."""
    if not path or "/" not in path:
        return None
    return re.sub(r"\[.*$", "", path.rsplit("/", 1)[1]) or None
