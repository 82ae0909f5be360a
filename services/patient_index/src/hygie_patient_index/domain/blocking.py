"""Blocking keys: a pair of records is compared only when they share one.

One function computes them for both paths — the online match (``block_keys && :keys``
on a GIN index) and the bulk load (a hash join on the unnested keys) — so both apply
the same rules:

1. ``f``: phonetic family name (birth or used) + birth year;
2. ``d``: birth date + first given-name initial (queried with the day and month swapped
   too);
3. ``p``: INSEE birth place + birth year + phonetic first given name;
4. ``t``: a phone number;
5. ``a``: postal code + phonetic first given name + initial of the phonetic family name.
"""

from __future__ import annotations

from datetime import date

from .comparators import MatchView
from .identity import SourceRecord
from .normalise import core_key, phonetic_fr

__all__ = ["RULE_FIELDS", "blocking_keys", "query_keys", "rule_of"]

#: The compared fields each blocking rule holds (nearly) constant within its blocks: EM
#: run on the pairs of one rule cannot estimate the m of these fields (they agree by
#: construction), so each field's m is taken from the rules that leave it free.
RULE_FIELDS: dict[str, frozenset[str]] = {
    "f": frozenset({"family_name", "birth_date"}),
    "d": frozenset({"birth_date", "given_name"}),
    "p": frozenset({"birth_place", "birth_date", "given_name"}),
    "t": frozenset({"phone"}),
    "a": frozenset({"postal_code", "given_name", "family_name"}),
}


def rule_of(key: str) -> str:
    """The rule a key belongs to (its prefix)."""
    return key.split(":", 1)[0]


def _swapped(d: date) -> date | None:
    if d.day > 12 or d.day == d.month:
        return None
    try:
        return d.replace(month=d.day, day=d.month)
    except ValueError:
        return None


def _parts(record: SourceRecord) -> tuple[list[str], str, list[str], date | None]:
    """Phonetic family names (birth and used), phonetic first given name, the initials of
    the first given name and of the family names, birth date."""
    t = record.traits
    names = (t.birth_family_name, t.used_family_name)
    family = sorted({p for n in names if n and (p := phonetic_fr(n))})
    initials = [core_key(t.first_given_name)[:1], *(core_key(n)[:1] for n in names if n)]
    return family, phonetic_fr(t.first_given_name), sorted(set(initials) - {""}), t.birth_date


def blocking_keys(record: SourceRecord, view: MatchView | None = None) -> list[str]:
    """The keys a record is indexed under."""
    family, given, initials, born = _parts(record)
    t = record.traits
    keys: list[str] = []
    if born is not None:
        keys += [f"f:{p}:{born.year}" for p in family]
        keys += [f"d:{born.isoformat()}:{i}" for i in initials]
        if t.birth_place_code and given:
            keys.append(f"p:{t.birth_place_code}:{born.year}:{given}")
    keys += [f"t:{phone}" for phone in sorted((view or MatchView(record)).phones)]
    postal = t.postal_code
    if postal and given:
        keys += [f"a:{postal}:{given}:{p[0]}" for p in family]
    return keys


def _transposed(digits: str) -> list[str]:
    """The number with two neighbouring digits swapped, at each place."""
    return [
        digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
        for i in range(len(digits) - 1)
        if digits[i] != digits[i + 1]
    ]


def query_keys(
    record: SourceRecord, view: MatchView | None = None, *, own: list[str] | None = None
) -> list[str]:
    """The keys a record is looked up with: its own (``own`` when already computed), its
    birth date day/month swapped, its first given name taken for the family name (the
    two names entered the one for the other), its phone numbers with two neighbouring
    digits swapped."""
    keys = list(own) if own is not None else blocking_keys(record, view)
    family, given, initials, born = _parts(record)
    if born is not None:
        swapped = _swapped(born)
        if swapped is not None:
            keys += [f"d:{swapped.isoformat()}:{i}" for i in initials]
        if given and given not in family:
            keys.append(f"f:{given}:{born.year}")
    for phone in sorted((view or MatchView(record)).phones):
        keys += [f"t:{p}" for p in _transposed(phone)]
    return keys
