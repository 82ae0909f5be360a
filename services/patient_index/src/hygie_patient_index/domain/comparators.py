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
from .normalise import compact, core_key, normalise_street, phonetic_fr

__all__ = [
    "MatchView",
    "compare_birth_date",
    "compare_birth_place",
    "compare_city",
    "compare_family_name",
    "compare_given_name",
    "compare_phone",
    "compare_postal_code",
    "compare_sex",
    "compare_street",
    "phone_key",
]


def phone_key(value: str | None) -> str:
    """The digits of a phone number, French international prefixes read as the trunk 0
    (+33 6 12 34 56 78 and 06.12.34.56.78 give 0612345678)."""
    digits = "".join(c for c in value or "" if c.isdigit())
    for prefix in ("0033", "33"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 9:
            return "0" + digits[len(prefix) :]
    return digits


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

    @cached_property
    def birth_digits(self) -> str:
        """YYYYMMDD, for the one-typo comparison."""
        d = self.record.traits.birth_date
        return f"{d.year:04d}{d.month:02d}{d.day:02d}" if d else ""

    @property
    def sex(self) -> Sex:
        return self.record.traits.sex

    @property
    def birth_place(self) -> str | None:
        return self.record.traits.birth_place_code

    @cached_property
    def phones(self) -> frozenset[str]:
        return frozenset(
            k
            for t in self.record.traits.telecoms
            if t.system in ("phone", "sms") and len(k := phone_key(t.value)) >= 6
        )

    @cached_property
    def street(self) -> str:
        """The first address line, upper case, letters and digits only."""
        addresses = self.record.traits.addresses
        line = addresses[0].lines[0] if addresses and addresses[0].lines else ""
        return "".join(c for c in normalise_street(line) if c.isalnum())

    @cached_property
    def city(self) -> str:
        addresses = self.record.traits.addresses
        return core_key(addresses[0].city) if addresses else ""

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
    if _swapped(a, b):
        return "swapped"
    return _best([level, *cross]) if cross else level


def _swapped(a: MatchView, b: MatchView) -> bool:
    """Family and first given names entered the one for the other (a classic slip)."""
    if not (a.birth_name and b.birth_name and a.first_given and b.first_given):
        return False
    close = ("exact", "close")
    return (
        _name_level(a.birth_name, b.first_given) in close
        and _name_level(a.first_given, b.birth_name) in close
    )


def compare_given_name(a: MatchView, b: MatchView) -> str | None:
    """First given names compared; one given name shared by both lists is ``partial``."""
    if not a.first_given or not b.first_given:
        return None
    level = _name_level(a.first_given, b.first_given)
    if level in ("exact", "close"):
        return level
    if a.given_names & b.given_names:
        return "partial"
    if _swapped(a, b):
        return "swapped"
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
    if DamerauLevenshtein.distance(a.birth_digits, b.birth_digits) <= 1:
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


def compare_phone(a: MatchView, b: MatchView) -> str | None:
    """A shared phone number, one mistyped digit, or none in common."""
    if not a.phones or not b.phones:
        return None
    if a.phones & b.phones:
        return "exact"
    if any(_one_digit(x, y) for x in a.phones for y in b.phones):
        return "typo"
    return "different"


def _one_digit(x: str, y: str) -> bool:
    """Same length and one digit mistyped or two neighbours swapped."""
    if len(x) != len(y):
        return False
    diffs = [i for i, (p, q) in enumerate(zip(x, y, strict=True)) if p != q]
    if len(diffs) == 1:
        return True
    i = diffs[0]
    return len(diffs) == 2 and diffs[1] == i + 1 and x[i] == y[i + 1] and x[i + 1] == y[i]


def compare_street(a: MatchView, b: MatchView) -> str | None:
    if not a.street or not b.street:
        return None
    if a.street == b.street:
        return "exact"
    if DamerauLevenshtein.distance(a.street, b.street) <= 2:
        return "close"
    return "different"


def compare_city(a: MatchView, b: MatchView) -> str | None:
    if not a.city or not b.city:
        return None
    if a.city == b.city:
        return "exact"
    if (
        DamerauLevenshtein.distance(a.city, b.city) <= 1
        or JaroWinkler.similarity(a.city, b.city) >= 0.9
    ):
        return "close"
    return "different"
