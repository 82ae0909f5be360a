"""Patient access report (GDPR art. 15): every access to one patient's data and every
change of it, with date, purpose and the accessing organisation and role; the staff
member's identity is shown only to a privacy officer."""

from __future__ import annotations

import html
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.summary import summary_of

__all__ = ["REDACTED", "access_report", "render_html"]

REDACTED = "(redacted)"
_BY_PATIENT = (
    "SELECT seq, report_line, CASE WHEN report_line IS NULL THEN body END FROM audit_entry"
    " WHERE patient = $1 ORDER BY recorded, seq"
)


async def access_report(conn: AsyncConnection, patient: str, *, show_staff: bool) -> dict[str, Any]:
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    rows = await driver.fetch(_BY_PATIENT, patient)  # one round trip, no per-row ORM work
    loads = orjson.loads
    entries = []
    for seq, line, body in rows:
        entry = loads(line) if line is not None else summary_of(loads(body)["resource"])
        if not show_staff and entry["agent"] is not None:
            entry["agent"] = REDACTED
        entry["position"] = seq
        entries.append(entry)
    return {
        "patient": patient,
        "staff_identities": "shown" if show_staff else "redacted",
        "total": len(entries),
        "accesses": sum(1 for e in entries if e["kind"] == "access"),
        "entries": entries,
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
