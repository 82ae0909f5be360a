"""EHR_STATUS: the versioned status of an EHR (subject, queryable, modifiable)."""

from __future__ import annotations

from typing import Any

from hygie_contracts import PartyRef

from .rm import UnknownRmType, check_known_types

__all__ = ["InvalidEhrStatus", "default_status", "read_status", "subject_of"]

ARCHETYPE = "openEHR-EHR-EHR_STATUS.generic.v1"


class InvalidEhrStatus(ValueError):
    """An EHR_STATUS body that cannot be accepted (the message names the path)."""


def default_status() -> dict[str, Any]:
    return {
        "_type": "EHR_STATUS",
        "archetype_node_id": ARCHETYPE,
        "name": {"_type": "DV_TEXT", "value": "EHR Status"},
        "subject": {"_type": "PARTY_SELF"},
        "is_queryable": True,
        "is_modifiable": True,
    }


def read_status(body: Any) -> dict[str, Any]:
    """Check an EHR_STATUS body (``_type`` and both flags required) and complete it with
    defaults for the rest (subject PARTY_SELF, name, archetype node id)."""
    if body is None:
        return default_status()
    if not isinstance(body, dict):
        raise InvalidEhrStatus("/: the body must be an EHR_STATUS object")
    try:
        check_known_types(body)
    except UnknownRmType as exc:
        raise InvalidEhrStatus(str(exc)) from None
    if body.get("_type") != "EHR_STATUS":
        raise InvalidEhrStatus(f"/_type: expected EHR_STATUS, got {body.get('_type')}")
    # RM: is_queryable and is_modifiable are mandatory (EHRbase refuses a body without them)
    for flag in ("is_queryable", "is_modifiable"):
        if flag not in body:
            raise InvalidEhrStatus(f"/{flag}: mandatory (true or false)")
    status = {**default_status(), **{k: v for k, v in body.items() if k != "uid"}}
    for flag in ("is_queryable", "is_modifiable"):
        if not isinstance(status[flag], bool):
            raise InvalidEhrStatus(f"/{flag}: must be true or false")
    subject = status.get("subject")
    if not isinstance(subject, dict):
        raise InvalidEhrStatus("/subject: must be a PARTY_SELF object")
    if subject.get("_type", "PARTY_SELF") != "PARTY_SELF":
        raise InvalidEhrStatus(f"/subject/_type: expected PARTY_SELF, got {subject.get('_type')}")
    subject_of(status)  # checks the external_ref
    return status


def subject_of(status: dict[str, Any]) -> PartyRef | None:
    """The patient an EHR_STATUS is about: external_ref namespace and id value."""
    ref = (status.get("subject") or {}).get("external_ref")
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise InvalidEhrStatus("/subject/external_ref: must be a PARTY_REF object")
    value = (ref.get("id") or {}).get("value") if isinstance(ref.get("id"), dict) else None
    namespace = ref.get("namespace")
    if not isinstance(value, str) or not value:
        raise InvalidEhrStatus("/subject/external_ref/id/value: missing or empty")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidEhrStatus("/subject/external_ref/namespace: missing or empty")
    return PartyRef(namespace=namespace, id=value)
