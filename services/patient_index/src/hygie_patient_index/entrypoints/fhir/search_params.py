"""PDQm (ITI-78) search parameters → a PatientQuery."""

from __future__ import annotations

import calendar
from datetime import date

from hygie_platform.http import Problem

from ...domain.errors import Issue
from ...service.queries import DateRange, PatientQuery
from .common import parse_uuid
from .outcome import issues_extra

__all__ = ["parse_search"]

_IGNORED = {"_format", "_pretty", "_summary", "_total", "_elements"}
_ADDRESS = {
    "address": "any",
    "address-city": "city",
    "address-postalcode": "postal_code",
    "address-country": "country",
    "address-state": "any",
}


def _bad(name: str, message: str) -> Problem:
    return Problem(
        400,
        "invalid-search-parameter",
        f"{name}: {message}",
        **issues_extra([Issue(name, "search-parameter", f"{name}: {message}")]),
    )


def _date_range(raw: str) -> DateRange:
    prefix = raw[:2] if raw[:2] in ("eq", "ge", "le", "gt", "lt") else "eq"
    text = raw[2:] if raw[:2] == prefix else raw
    parts = text.split("-")
    try:
        if len(parts) == 1:
            lo, hi = date(int(parts[0]), 1, 1), date(int(parts[0]), 12, 31)
        elif len(parts) == 2:
            y, m = int(parts[0]), int(parts[1])
            lo, hi = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        else:
            lo = hi = date.fromisoformat(text)
    except ValueError:
        raise _bad("birthdate", f"{raw!r} is not a FHIR date") from None
    far_past, far_future = date(1, 1, 1), date(9999, 12, 31)
    return {
        "eq": DateRange(lo, hi),
        "ge": DateRange(lo, far_future),
        "gt": DateRange(date.fromordinal(hi.toordinal() + 1), far_future),
        "le": DateRange(far_past, hi),
        "lt": DateRange(far_past, date.fromordinal(lo.toordinal() - 1)),
    }[prefix]


def parse_search(params: list[tuple[str, str]]) -> PatientQuery:
    """Every criterion must hold; repeated parameters are ANDed, commas are ORed only for
    ``_id`` and ``identifier`` (FHIR search)."""
    q: dict[str, list[object]] = {}
    count, gender, active = 50, None, None
    for key, value in params:
        name, _, modifier = key.partition(":")
        if name in _IGNORED:
            continue
        if modifier and not (modifier == "exact" and name in ("family", "given")):
            raise _bad(key, f"modifier :{modifier} is not supported")
        if name == "_id":
            q.setdefault("ids", []).extend(parse_uuid(v) for v in value.split(","))
        elif name == "identifier":
            for item in value.split(","):
                system, sep, ident = item.partition("|")
                q.setdefault("identifiers", []).append(
                    (system or None, ident or None) if sep else (None, item)
                )
        elif name in ("family", "given"):
            q.setdefault(name, []).append((value, modifier == "exact"))
        elif name == "birthdate":
            q.setdefault("birthdate", []).append(_date_range(value))
        elif name == "gender":
            if value not in ("male", "female", "other", "unknown"):
                raise _bad("gender", f"{value!r} is not an administrative gender")
            gender = value
        elif name in _ADDRESS:
            q.setdefault("address", []).append((_ADDRESS[name], value))
        elif name == "telecom":
            q.setdefault("telecom", []).append(value.partition("|")[2] or value)
        elif name == "active":
            active = value == "true"
        elif name == "_count":
            if not value.isdigit():
                raise _bad("_count", "must be a positive integer")
            count = max(1, min(int(value), 500))
        else:
            raise _bad(name, "is not a supported search parameter of Patient (PDQm)")
    return PatientQuery(
        ids=tuple(q.get("ids", ())),
        identifiers=tuple(q.get("identifiers", ())),  # type: ignore[arg-type]
        family=tuple(q.get("family", ())),
        given=tuple(q.get("given", ())),  # type: ignore[arg-type]
        birthdate=tuple(q.get("birthdate", ())),
        gender=gender,  # type: ignore[arg-type]
        address=tuple(q.get("address", ())),
        telecom=tuple(q.get("telecom", ())),  # type: ignore[arg-type]
        active=active,
        count=count,
    )
