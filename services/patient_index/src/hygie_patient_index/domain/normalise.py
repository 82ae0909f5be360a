"""French-aware normalisation of identity traits, for matching and search (never stored
as the patient's traits, which are kept as received).

Names: upper case, no diacritics (Œ→OE, Æ→AE), hyphens, apostrophes and dots become
spaces, anything else but letters is dropped. Particles (DE, DU, LE, D', VAN...) are kept
in the *full* key and removed from the *core* key, so that "de La Fontaine",
"DE LA FONTAINE" and "Fontaine" can be compared both ways. Compound given names
("Jean-Pierre") stay one given name whose key is "JEANPIERRE".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "PARTICLES",
    "compact",
    "core_key",
    "normalise_name",
    "normalise_street",
    "phonetic_fr",
    "strip_accents",
]

PARTICLES: frozenset[str] = frozenset(
    {
        "D",
        "DE",
        "DES",
        "DU",
        "DI",
        "DA",
        "DEL",
        "DELLA",
        "DELLE",
        "DOS",
        "DAS",
        "L",
        "LA",
        "LE",
        "LES",
        "VAN",
        "VON",
        "DER",
        "DEN",
        "TER",
        "TEN",
        "ST",
        "SAINT",
        "SAINTE",
    }
)

_LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss"})
_SEPARATORS = re.compile("[\\s\\-\u2010\u2011\u2012\u2013\u2014'\u2019`\u00b4\u02bc.,_/]+")
_NOT_LETTER = re.compile(r"[^A-Z ]")


def strip_accents(text: str) -> str:
    """Remove diacritics (é→e, ç→c) and expand ligatures."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def normalise_name(text: str | None) -> str:
    """Upper case, no accents, separators as single spaces, letters only."""
    if not text:
        return ""
    upper = strip_accents(text).upper()
    spaced = _SEPARATORS.sub(" ", upper)
    return " ".join(_NOT_LETTER.sub("", spaced).split())


@lru_cache(maxsize=65536)
def normalise_street(text: str | None) -> str:
    """An address line upper case, without accents, letters, digits and single spaces."""
    if not text:
        return ""
    upper = strip_accents(text).upper()
    return " ".join(re.sub(r"[^A-Z0-9]", " ", upper).split())


def compact(text: str | None) -> str:
    """The normalised name without spaces ("Jean-Pierre" → "JEANPIERRE")."""
    return normalise_name(text).replace(" ", "")


def core_key(text: str | None) -> str:
    """The normalised name without its particles ("de La Fontaine" → "FONTAINE")."""
    tokens = normalise_name(text).split()
    kept = [t for t in tokens if t not in PARTICLES]
    return "".join(kept or tokens)


# Ordered rewrite rules of the French phonetic key (a simplified "Soundex FR" in the
# spirit of Phonex): digraphs first, then soft/hard consonants, then nasal vowels.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"SCH", "X"),
        (r"CH", "X"),
        (r"SH", "X"),
        (r"PH", "F"),
        (r"TH", "T"),
        (r"GU(?=[EIY])", "G"),
        (r"QU", "K"),
        (r"Q", "K"),
        (r"CK", "K"),
        (r"G(?=[EIY])", "J"),
        (r"C(?=[EIY])", "S"),
        (r"C", "K"),
        (r"GN", "N"),
        (r"BV", "V"),
        (r"W", "V"),
        (r"Z", "S"),
        (r"Y", "I"),
        (r"EAU", "O"),
        (r"AU", "O"),
        (r"OU", "U"),
        (r"AI", "E"),
        (r"EI", "E"),
        (r"(?<=[AEIOU])S(?=[AEIOU])", "Z"),
        (r"E[NM](?=[^AEIOU]|$)", "AN"),
        (r"A[M](?=[^AEIOU]|$)", "AN"),
        (r"[AEU]IN(?=[^AEIOU]|$)", "IN"),
        (r"UN(?=[^AEIOU]|$)", "IN"),
        (r"H", ""),
        (r"(ER|EZ|ET)$", "E"),
        (r"[STXDP]+$", ""),
        (r"E$", ""),
    )
)
_DOUBLES = re.compile(r"(.)\1+")


@lru_cache(maxsize=65536)
def phonetic_fr(text: str | None) -> str:
    """A French phonetic key: names that sound alike share it (DUPOND/DUPONT → DUPON)."""
    word = core_key(text)
    if not word:
        return ""
    for pattern, replacement in _RULES:
        word = pattern.sub(replacement, word)
    word = _DOUBLES.sub(r"\1", word)
    return word or core_key(text)[:1]
