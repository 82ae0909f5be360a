"""Rules every source record must satisfy before anything is stored."""

from __future__ import annotations

import re
from datetime import date

from .errors import Issue
from .identity import Sex, SourceRecord
from .ins import INS_OIDS

__all__ = ["EARLIEST_BIRTH", "validate_record"]

EARLIEST_BIRTH = date(1850, 1, 1)
_INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def validate_record(record: SourceRecord, *, today: date) -> list[Issue]:
    """Every rule the record breaks (empty when it is acceptable)."""
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for ident in record.identifiers:
        if not ident.system or not ident.value:
            issues.append(
                Issue(
                    "identifier",
                    "identifier-incomplete",
                    "a local identifier needs a system and a value",
                )
            )
        elif ident.system.removeprefix("urn:oid:") in INS_OIDS:
            issues.append(
                Issue(
                    "identifier",
                    "identifier-system",
                    f"{ident.system} is an INS authority, not a local one",
                )
            )
        elif (ident.system, ident.value) in seen:
            issues.append(Issue("identifier", "identifier-duplicate", f"{ident} appears twice"))
        seen.add((ident.system, ident.value))
    t = record.traits
    if t.birth_date is not None and not (EARLIEST_BIRTH <= t.birth_date <= today):
        issues.append(
            Issue(
                "birth_date",
                "birth-date-impossible",
                f"birth date {t.birth_date} is not between {EARLIEST_BIRTH} and today",
            )
        )
    if t.death_date is not None:
        if t.death_date > today:
            issues.append(
                Issue(
                    "death_date",
                    "death-date-impossible",
                    f"death date {t.death_date} is in the future",
                )
            )
        elif t.birth_date is not None and t.death_date < t.birth_date:
            issues.append(
                Issue(
                    "death_date",
                    "death-date-impossible",
                    f"death date {t.death_date} is before birth date {t.birth_date}",
                )
            )
    if t.birth_place_code is not None and not _INSEE.match(t.birth_place_code):
        issues.append(
            Issue(
                "birth_place_code",
                "birth-place-code-format",
                f"{t.birth_place_code!r} is not an INSEE code (5 characters)",
            )
        )
    issues.extend(_status_rules(record))
    return issues


def _status_rules(record: SourceRecord) -> list[Issue]:
    issues: list[Issue] = []
    t, status = record.traits, record.status
    if status.retrieved and record.ins is None:
        issues.append(
            Issue(
                "ins", "status-requires-ins", f"status {status} requires the INS returned by INSi"
            )
        )
    if status is not status.PROV:
        missing = [
            name
            for name, value in (
                ("birth_family_name", t.birth_family_name),
                ("birth_given_names", t.birth_given_names),
                ("birth_date", t.birth_date),
            )
            if not value
        ]
        if t.sex in (Sex.UNKNOWN, Sex.OTHER):
            missing.append("sex")
        for name in missing:
            issues.append(
                Issue(
                    name,
                    "status-requires-trait",
                    f"status {status} requires the strict trait {name}",
                )
            )
    ins = record.ins
    if ins is not None and t.birth_date is not None:
        if ins.birth_year_2 != f"{t.birth_date.year % 100:02d}":
            issues.append(
                Issue(
                    "ins",
                    "ins-traits-mismatch",
                    f"INS {ins.matricule} is of a person born in ..{ins.birth_year_2}, "
                    f"not {t.birth_date.year}",
                )
            )
        elif ins.birth_month is not None and ins.birth_month != t.birth_date.month:
            issues.append(
                Issue(
                    "ins",
                    "ins-traits-mismatch",
                    f"INS {ins.matricule} is of a person born in month "
                    f"{ins.birth_month}, not {t.birth_date.month}",
                )
            )
    if ins is not None and ins.sex_digit in (1, 2) and t.sex in (Sex.MALE, Sex.FEMALE):
        expected = Sex.MALE if ins.sex_digit == 1 else Sex.FEMALE
        if t.sex is not expected:
            issues.append(
                Issue(
                    "ins",
                    "ins-traits-mismatch",
                    f"INS {ins.matricule} is of a {expected.value} person, not {t.sex.value}",
                )
            )
    return issues
