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

__all__ = ["blocking_keys", "query_keys"]


def _swapped(d: date) -> date | None:
    if d.day > 12 or d.day == d.month:
        return None
    try:
        return d.replace(month=d.day, day=d.month)
    except ValueError:
        return None


def _parts(record: SourceRecord) -> tuple[list[str], str, str, date | None]:
    t = record.traits
    family = sorted(
        {p for n in (t.birth_family_name, t.used_family_name) if n and (p := phonetic_fr(n))}
    )
    return family, phonetic_fr(t.first_given_name), core_key(t.first_given_name)[:1], t.birth_date


def blocking_keys(record: SourceRecord, view: MatchView | None = None) -> list[str]:
    """The keys a record is indexed under."""
    family, given, initial, born = _parts(record)
    t = record.traits
    keys: list[str] = []
    if born is not None:
        keys += [f"f:{p}:{born.year}" for p in family]
        if initial:
            keys.append(f"d:{born.isoformat()}:{initial}")
        if t.birth_place_code and given:
            keys.append(f"p:{t.birth_place_code}:{born.year}:{given}")
    keys += [f"t:{phone}" for phone in sorted((view or MatchView(record)).phones)]
    postal = t.postal_code
    if postal and given:
        keys += [f"a:{postal}:{given}:{p[0]}" for p in family]
    return keys


def query_keys(
    record: SourceRecord, view: MatchView | None = None, *, own: list[str] | None = None
) -> list[str]:
    """The keys a record is looked up with: its own (``own`` when already computed), and
    its birth date day/month swapped."""
    keys = list(own) if own is not None else blocking_keys(record, view)
    born = record.traits.birth_date
    _, _, initial, _ = _parts(record)
    swapped = _swapped(born) if born is not None else None
    if swapped is not None and initial:
        keys.append(f"d:{swapped.isoformat()}:{initial}")
    return keys
