"""Patient access report (GDPR art. 15): every access to one patient's data and every
change of it, with date, purpose and the accessing organisation and role; the staff
member's identity is shown only to a privacy officer."""

from __future__ import annotations

import html
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.balp import HYGIE_ROLE, ROLE_CLASS

__all__ = ["REDACTED", "access_report", "render_html"]

REDACTED = "(redacted)"
_BY_PATIENT = "SELECT seq, body FROM audit_entry WHERE patient = $1 ORDER BY recorded, seq"
_ACTIONS = {"C": "create", "R": "read", "U": "update", "D": "delete", "E": "query"}


async def access_report(conn: AsyncConnection, patient: str, *, show_staff: bool) -> dict[str, Any]:
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    rows = await driver.fetch(_BY_PATIENT, patient)  # one round trip, no per-row ORM work
    loads = orjson.loads
    entries = [_line(seq, loads(body)["resource"], show_staff) for seq, body in rows]
    return {
        "patient": patient,
        "staff_identities": "shown" if show_staff else "redacted",
        "total": len(entries),
        "accesses": sum(1 for e in entries if e["kind"] == "access"),
        "entries": entries,
    }


def _line(seq: int, resource: dict[str, Any], show_staff: bool) -> dict[str, Any]:
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
        "position": seq,
        "date": resource.get("recorded"),
        "kind": "access" if resource.get("type", {}).get("code") == "rest" else "change",
        "action": _ACTIONS.get(action or "", action),
        "purpose": purposes or None,
        "roles": roles,
        "organisation": organisation,
        "service": (resource.get("source", {}).get("observer") or {}).get("display"),
        "resource": what.get("reference") or (what.get("identifier") or {}).get("value"),
        "outcome": resource.get("outcome"),
        "agent": person if show_staff or person is None else REDACTED,
    }


def render_html(report: dict[str, Any]) -> str:
    """A readable page of the report (no script, no external resource)."""
    e = html.escape
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(str(v)) if v not in (None, []) else ''}</td>"
            for v in (
                line["date"],
                line["kind"],
                line["action"],
                ", ".join(line["purpose"] or []),
                line["organisation"],
                ", ".join(line["roles"]),
                line["agent"],
                line["service"],
                line["resource"],
            )
        )
        + "</tr>"
        for line in report["entries"]
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "Date",
            "Kind",
            "Action",
            "Purpose",
            "Organisation",
            "Role",
            "Who",
            "Service",
            "Data",
        )
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Access report for {e(report['patient'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style></head><body>"
        f"<h1>Who accessed the record of {e(report['patient'])}</h1>"
        f"<p>{report['total']} entries, {report['accesses']} accesses. Staff identities: "
        f"{e(report['staff_identities'])}.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>"
    )
