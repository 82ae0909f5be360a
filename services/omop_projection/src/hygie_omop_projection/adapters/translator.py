"""Source codes → standard OMOP concepts: the terminology service's batch translate.

``Translator`` is the port; ``HttpTranslator`` calls ``POST /fhir/$translate-batch`` of the
terminology service (contract: ``hygie_contracts.terminology.TranslateBatchRequest``);
``TableTranslator`` answers from an in-memory table (tests, or a table built from an OMOP
vocabulary export with :func:`from_omop_csv`). Answers are cached by the projection in its
``concept_cache`` table and invalidated by the terminology events.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import httpx

from hygie_contracts.terminology import SourceCode, TranslateBatchRequest, TranslateBatchResponse

from ..domain.mapper import Concept

__all__ = ["HttpTranslator", "TableTranslator", "Translator", "from_omop_csv"]

log = logging.getLogger(__name__)


class Translator(Protocol):
    """Translate (vocabulary, code) pairs; a pair absent from the answer is not known."""

    async def translate(self, codes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Concept]:
        """Translate a batch of codes."""
        ...


class TableTranslator:
    """Translations from a table: ``{(vocabulary, code): Concept}``."""

    def __init__(self, table: dict[tuple[str, str], Concept] | None = None) -> None:
        self.table = dict(table or {})
        self.calls = 0

    async def translate(self, codes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Concept]:
        self.calls += 1
        return {c: self.table[c] for c in codes if c in self.table}


class HttpTranslator:
    """The terminology service's batch translate, 10,000 codes per request.

    When the service cannot be reached the codes stay untranslated (concept 0, listed as
    unmapped) and are translated again at the next terminology event or rebuild.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str] | None = None,
        timeout: float = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.transport = transport

    async def translate(self, codes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Concept]:
        wanted = sorted(set(codes))
        out: dict[tuple[str, str], Concept] = {}
        headers = {"Authorization": f"Bearer {self.token()}"} if self.token else {}
        async with httpx.AsyncClient(
            timeout=self.timeout, headers=headers, transport=self.transport
        ) as client:
            for start in range(0, len(wanted), 10_000):
                chunk = wanted[start : start + 10_000]
                body = TranslateBatchRequest(
                    codes=tuple(SourceCode(system=s, code=c) for s, c in chunk)
                )
                try:
                    answer = await client.post(
                        f"{self.base_url}/fhir/$translate-batch", json=body.model_dump(mode="json")
                    )
                    answer.raise_for_status()
                    parsed = TranslateBatchResponse.model_validate_json(answer.content)
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("terminology batch translate unavailable: %s", exc)
                    return out
                for (system, code), result in zip(chunk, parsed.results, strict=False):
                    if result.status in ("unknown-system",):
                        continue
                    standard = next(
                        (t for t in result.targets if t.relationship != "Maps to value"), None
                    )
                    out[(system, code)] = Concept(
                        standard.concept_id if standard else 0, result.source_concept_id or 0
                    )
        return out


def from_omop_csv(concept_csv: Path, relationship_csv: Path) -> TableTranslator:
    """A table translator from OMOP ``CONCEPT`` and ``CONCEPT_RELATIONSHIP`` CSV files
    (comma-separated with a header): each code maps to its ``Maps to`` target, a standard
    concept to itself."""
    by_id: dict[int, tuple[str, str, str]] = {}
    with concept_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_id[int(row["concept_id"])] = (
                row["vocabulary_id"],
                row["concept_code"],
                row["standard_concept"],
            )
    maps_to: dict[int, int] = {}
    with relationship_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["relationship_id"] == "Maps to" and not row.get("invalid_reason"):
                maps_to.setdefault(int(row["concept_id_1"]), int(row["concept_id_2"]))
    table = {}
    for concept_id, (vocabulary, code, standard) in by_id.items():
        target = concept_id if standard == "S" else maps_to.get(concept_id, 0)
        table[(vocabulary, code)] = Concept(target, concept_id)
    return TableTranslator(table)
