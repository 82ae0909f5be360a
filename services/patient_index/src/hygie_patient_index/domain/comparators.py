"""Field comparators: each maps a pair of values to a comparison *level* (Fellegi-Sunter).

Levels are ordered from the strongest agreement to disagreement; ``None`` means a value
is missing on either side (the field then contributes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from .identity import Sex, SourceRecord
from .normalise import compact, core_key, phonetic_fr

__all__ = [
    "MatchView",
    "compare_birth_date",
    "compare_birth_place",
    "compare_family_name",
    "compare_given_name",
    "compare_postal_code",
    "compare_sex",
]


@dataclass(frozen=True)
class MatchView:
    """The normalised keys of one source record, as matching compares them."""

    record: SourceRecord

    @cached_property
    def birth_name(self) -> str:
        return core_key(self.record.traits.birth_family_name)

    @cached_property
    def used_name(self) -> str:
        return core_key(self.record.traits.used_family_name)

    @cached_property
    def family_names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.birth_name, self.used_name) if n)

    @cached_property
    def first_given(self) -> str:
        return compact(self.record.traits.first_given_name)

    @cached_property
    def given_names(self) -> frozenset[str]:
        """Every given name and every part of a compound one (JEANPIERRE, JEAN, PIERRE)."""
        t = self.record.traits
        names = [*t.birth_given_names, *([t.used_given_name] if t.used_given_name else [])]
        keys: set[str] = set()
        for name in names:
            keys.add(compact(name))
            keys.update(core_key(part) for part in name.replace("-", " ").split())
        keys.discard("")
        return frozenset(keys)

    @property
    def birth_date(self) -> date | None:
        return self.record.traits.birth_date

    @property
    def sex(self) -> Sex:
        return self.record.traits.sex

    @property
    def birth_place(self) -> str | None:
        return self.record.traits.birth_place_code

    @cached_property
    def postal_code(self) -> str | None:
        code = self.record.traits.postal_code
        return "".join(c for c in code if c.isalnum()) if code else None


def _name_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    if JaroWinkler.similarity(a, b) >= 0.94 or DamerauLevenshtein.distance(a, b) <= 1:
        return "close"
    if phonetic_fr(a) == phonetic_fr(b):
        return "phonetic"
    if JaroWinkler.similarity(a, b) >= 0.85:
        return "similar"
    return "different"


_NAME_ORDER = ("exact", "close", "phonetic", "similar", "different")


def _best(levels: list[str]) -> str:
    return min(levels, key=_NAME_ORDER.index)


def compare_family_name(a: MatchView, b: MatchView) -> str | None:
    """Birth names compared; a birth name equal to the other's used name (married name)
    is the level ``alias``."""
    if (not a.birth_name or not b.birth_name) and (not a.family_names or not b.family_names):
        return None
    level = (
        _name_level(a.birth_name, b.birth_name) if a.birth_name and b.birth_name else "different"
    )
    if level in ("exact", "close"):
        return level
    cross = [_name_level(x, y) for x in a.family_names for y in b.family_names]
    if cross and _best(cross) in ("exact", "close"):
        return "alias"
    return _best([level, *cross]) if cross else level


def compare_given_name(a: MatchView, b: MatchView) -> str | None:
    """First given names compared; one given name shared by both lists is ``partial``."""
    if not a.first_given or not b.first_given:
        return None
    level = _name_level(a.first_given, b.first_given)
    if level in ("exact", "close"):
        return level
    if a.given_names & b.given_names:
        return "partial"
    return level


def compare_birth_date(a: MatchView, b: MatchView) -> str | None:
    """Exact, day/month swapped, one typo (one edit of YYYYMMDD), same year, different."""
    x, y = a.birth_date, b.birth_date
    if x is None or y is None:
        return None
    if x == y:
        return "exact"
    if x.year == y.year and x.day == y.month and x.month == y.day:
        return "swap"
    if DamerauLevenshtein.distance(x.strftime("%Y%m%d"), y.strftime("%Y%m%d")) <= 1:
        return "typo"
    if x.year == y.year:
        return "year"
    return "different"


def compare_sex(a: MatchView, b: MatchView) -> str | None:
    known = (Sex.MALE, Sex.FEMALE)
    if a.sex not in known or b.sex not in known:
        return None
    return "same" if a.sex == b.sex else "different"


def compare_birth_place(a: MatchView, b: MatchView) -> str | None:
    if not a.birth_place or not b.birth_place:
        return None
    if a.birth_place == b.birth_place:
        return "exact"
    if a.birth_place[:2] == b.birth_place[:2]:
        return "department"
    return "different"


def compare_postal_code(a: MatchView, b: MatchView) -> str | None:
    if not a.postal_code or not b.postal_code:
        return None
    if a.postal_code == b.postal_code:
        return "exact"
    if a.postal_code[:2] == b.postal_code[:2]:
        return "department"
    return "different"
