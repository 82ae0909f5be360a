"""ISO 8601 values as openEHR data types carry them (DV_DATE_TIME, DV_DATE, DV_TIME,
DV_DURATION), and the ADL 1.4 date/time patterns that constrain them."""

from __future__ import annotations

import re

__all__ = ["check_temporal_pattern", "duration_seconds", "parse_temporal"]

_DURATION = re.compile(
    r"^-?P(?!$)(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?"
    r"(?:(\d+(?:[.,]\d+)?)D)?(?:T(?=\d)(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?"
    r"(?:(\d+(?:[.,]\d+)?)S)?)?$"
)
_UNIT_SECONDS = (365.2425 * 86400, 30.436875 * 86400, 7 * 86400, 86400, 3600, 60, 1)

_TZ = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
_TIME = rf"\d{{2}}(?::?\d{{2}}(?::?\d{{2}}(?:[.,]\d+)?)?)?{_TZ}?"
_DATE = r"\d{4}(?:-?\d{2}(?:-?\d{2})?)?"
_FORMATS = {
    "DV_DATE_TIME": re.compile(rf"^{_DATE}(?:T{_TIME})?$"),
    "DV_DATE": re.compile(rf"^{_DATE}$"),
    "DV_TIME": re.compile(rf"^T?{_TIME}$"),
}


def duration_seconds(text: str) -> float | None:
    """An ISO 8601 duration in seconds (years and months averaged), or None if malformed."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    total = sum(
        float(g.replace(",", ".")) * unit
        for g, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
        if g
    )
    return -total if text.strip().startswith("-") else total


def parse_temporal(rm_type: str, value: str) -> bool:
    """True when ``value`` is a well-formed ISO 8601 value of this RM type."""
    if rm_type == "DV_DURATION":
        return duration_seconds(value) is not None
    fmt = _FORMATS.get(rm_type)
    return bool(fmt and fmt.match(value))


def _parts(value: str) -> tuple[list[str], list[str]]:
    date, _, time = value.partition("T")
    date_parts = [p for p in re.split(r"-", date) if p] if date else []
    time = re.split(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", time)[0] if time else ""
    time_parts = [p for p in time.split(":") if p] if time else []
    return date_parts, time_parts


def check_temporal_pattern(pattern: str, value: str) -> str | None:
    """Check a value against an ADL 1.4 date/time pattern (``yyyy-mm-ddTHH:MM:SS``, with
    ``??`` optional and ``XX`` forbidden parts); a message when it does not conform."""
    p_date, _, p_time = pattern.partition("T")
    pattern_parts = (
        [x for x in p_date.split("-") if x] if p_date else [],
        [x for x in p_time.split(":") if x] if p_time else [],
    )
    value_parts = _parts(value if "T" in value or pattern.startswith(("y", "Y")) else "T" + value)
    for wanted, given in zip(pattern_parts, value_parts, strict=True):
        for i, part in enumerate(wanted):
            present = i < len(given)
            if part.upper() == "XX" and present:
                return f"{value!r} must not have the part {part!r} of pattern {pattern!r}"
            if part.isalpha() and part.upper() not in ("XX",) and "?" not in part and not present:
                return f"{value!r} lacks a part required by pattern {pattern!r}"
    return None
