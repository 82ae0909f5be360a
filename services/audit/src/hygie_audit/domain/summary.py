"""The line of the patient access report for one AuditEvent: computed once when the
record is appended (stored beside it, outside the hashed bytes) so that a report reads a few
hundred bytes per access instead of the whole record."""

from __future__ import annotations

from typing import Any

from .balp import HYGIE_ROLE, ROLE_CLASS

__all__ = ["summary_of"]

_ACTIONS = {"C": "create", "R": "read", "U": "update", "D": "delete", "E": "query"}


def summary_of(resource: dict[str, Any]) -> dict[str, Any]:
    """The patient-report line of an AuditEvent (who unredacted: the caller redacts)."""
    requestor: dict[str, Any] = next(
        (a for a in resource.get("agent", []) if a.get("requestor")), {}
    )
    who = requestor.get("who") or {}
    person = (who.get("identifier") or {}).get("value") or who.get("display")
    roles = [
        c["code"]
        for r in requestor.get("role", [])
        for c in r.get("coding", [])
        if c.get("system") == HYGIE_ROLE
    ]
    organisation = next(
        (
            (a.get("who") or {}).get("display")
            for a in resource.get("agent", [])
            if any(
                c.get("code") == "PROV" and c.get("system") == ROLE_CLASS
                for c in (a.get("type") or {}).get("coding", [])
            )
        ),
        None,
    )
    purposes = [
        c.get("code") for p in requestor.get("purposeOfUse", []) for c in p.get("coding", [])
    ]
    data: dict[str, Any] = next(
        (e for e in resource.get("entity", []) if (e.get("role") or {}).get("code") == "4"), {}
    )
    what = data.get("what") or {}
    action = resource.get("action")
    return {
        "date": resource.get("recorded"),
        "kind": "access" if resource.get("type", {}).get("code") == "rest" else "change",
        "action": _ACTIONS.get(action or "", action),
        "purpose": purposes or None,
        "roles": roles,
        "organisation": organisation,
        "service": (resource.get("source", {}).get("observer") or {}).get("display"),
        "resource": what.get("reference") or (what.get("identifier") or {}).get("value"),
        "outcome": resource.get("outcome"),
        "agent": person,
    }
