"""Languages of OMOP synonyms: CONCEPT_SYNONYM.language_concept_id names a concept of the
release whose name is "<Language> language"; its BCP-47 code is read from that name, so
no concept id is hard-coded."""

from __future__ import annotations

__all__ = ["language_code"]

_BY_NAME = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "dutch": "nl",
    "portuguese": "pt",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
}


def language_code(concept_name: str | None) -> str | None:
    """``"French language"`` -> ``"fr"``; None when the name is not a known language."""
    if not concept_name:
        return None
    word = concept_name.lower().removesuffix(" language").strip()
    return _BY_NAME.get(word)
