"""``MATCHES {terminology://...}``: value sets expanded by the terminology service
(FHIR ``ValueSet/$expand``) before the statement is compiled; the codes then travel as one
bound JSON array.

Accepted forms of the URI:

- ``terminology://<server>/ValueSet/$expand?url=<value set url>[&other=...]`` — the query
  parameters of ``$expand`` (the value set ``url``, possibly an implicit SNOMED CT one such
  as ``http://snomed.info/sct?fhir_vs=isa/73211009``);
- ``terminology://Snomed-CT/hierarchy?rootConceptId=<id>`` — the concept and its
  descendants (``fhir_vs=isa/<id>``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .binds import AqlError, Unsupported

__all__ = ["TerminologyUnavailable", "ValueSetExpander", "expand_parameters"]

SNOMED = "http://snomed.info/sct"


class TerminologyUnavailable(Unsupported):
    """The terminology service could not expand a value set (unreachable, refused, or
    the expansion is larger than the engine takes): the statement cannot be answered."""


def expand_parameters(uri: str) -> dict[str, str]:
    """The ``$expand`` parameters a ``terminology://`` URI stands for (``AqlError``)."""
    rest = uri.removeprefix("terminology:").lstrip("/")
    path, _, query = rest.partition("?")
    params: dict[str, str] = {}
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if key:
            params[key] = value
    if path.endswith("ValueSet/$expand") and params.get("url"):
        return params
    if path.lower().endswith("hierarchy") and params.get("rootConceptId"):
        return {"url": f"{SNOMED}?fhir_vs=isa/{params['rootConceptId']}"}
    raise AqlError(
        f"{uri}: a terminology URI is terminology://<server>/ValueSet/$expand?url=<value set>"
        " or terminology://Snomed-CT/hierarchy?rootConceptId=<concept id>"
    )


def _codes(contains: list[Any]) -> list[str]:
    out: list[str] = []
    for item in contains:
        if isinstance(item, dict):
            if isinstance(item.get("code"), str):
                out.append(item["code"])
            out.extend(_codes(item.get("contains") or []))
    return out


class ValueSetExpander:
    """Expands value sets through the terminology service's FHIR API."""

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str] | None = None,
        timeout: float = 5.0,
        max_codes: int = 10_000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.max_codes = max_codes

    async def __call__(self, uri: str) -> list[str]:
        params = {**expand_parameters(uri), "count": str(self.max_codes + 1)}
        headers = {"Accept": "application/fhir+json"}
        try:
            if self.token is not None:
                headers["Authorization"] = f"Bearer {self.token()}"
        except Exception as exc:  # no local issuer (OIDC): service tokens not wired yet
            raise TerminologyUnavailable(
                f"MATCHES {{{uri}}}: no token for the terminology service ({exc})"
            ) from None
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                resp = await client.get(
                    f"{self.base_url}/fhir/ValueSet/$expand", params=params, headers=headers
                )
        except httpx.HTTPError as exc:
            raise TerminologyUnavailable(
                f"MATCHES {{{uri}}}: the terminology service at {self.base_url} could not be"
                f" reached ({type(exc).__name__})"
            ) from None
        if resp.status_code != 200:
            raise TerminologyUnavailable(
                f"MATCHES {{{uri}}}: the terminology service answered {resp.status_code}"
                f" to $expand: {resp.text[:200]}"
            )
        expansion = resp.json().get("expansion") or {}
        codes = _codes(expansion.get("contains") or [])
        total = expansion.get("total")
        if len(codes) > self.max_codes or (isinstance(total, int) and total > self.max_codes):
            raise TerminologyUnavailable(
                f"MATCHES {{{uri}}}: the value set has more than {self.max_codes} codes"
            )
        return codes
