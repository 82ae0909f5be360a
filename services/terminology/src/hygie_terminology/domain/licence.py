"""Licence gate: vocabularies that Athena distributes only under a licence of their owner.

A release containing concepts of one of them is refused unless the operator confirmed the
licence (``--accept-licence <vocabulary_id>``). The list is conservative: SNOMED CT is free
only in SNOMED International member countries and is gated so that the operator states it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["LICENSED_VOCABULARIES", "unconfirmed"]

LICENSED_VOCABULARIES: dict[str, str] = {
    "SNOMED": "SNOMED CT: affiliate licence (free in SNOMED International member countries)",
    "CPT4": "CPT-4: American Medical Association licence",
    "MedDRA": "MedDRA: MSSO subscription",
    "EphMRA ATC": "EphMRA ATC: EphMRA licence",
    "GGR": "GGR: Belgian drug database licence",
    "Gemscript": "Gemscript: Cegedim licence",
    "ICD10GM": "ICD-10-GM: BfArM licence",
}


def unconfirmed(vocabularies: Iterable[str], confirmed: Iterable[str]) -> dict[str, str]:
    """The licensed vocabularies present whose licence was not confirmed, with the reason."""
    ok = {v.strip().lower() for v in confirmed}
    return {
        v: LICENSED_VOCABULARIES[v]
        for v in sorted(set(vocabularies))
        if v in LICENSED_VOCABULARIES and v.lower() not in ok
    }
