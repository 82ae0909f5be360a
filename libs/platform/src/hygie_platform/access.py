"""Emit an access event in one line (ARCHITECTURE §9: every read of patient data is audited).

Inside the unit of work of the read, so the access is journaled with the same commit::

    async with request.app.state.uow() as uow:
        composition = await repo(uow.connection).get(uid)
        await record_access(uow, request, patient=f"{ns}|{pid}",
                            resource=f"Composition/{uid}", action="read")

A query (AQL, a search over many patients) is one event naming every patient its result
holds (``record_query``), not one event per patient.

The agent and roles come from ``request.state.principal`` (set by ``require_roles``), the
request id from ``request.state.request_id`` (set by the HTTP middleware), the purpose of
use from the ``purpose`` argument, else the ``X-Purpose-Of-Use`` header, else the token's
``purpose_of_use`` claim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request

from hygie_contracts.access import QUERY_PATIENTS_LISTED, QueryExecuted, RecordAccessed

from .envelope import Envelope
from .uow import UnitOfWork

__all__ = ["ACTIONS", "patients_digest", "record_access", "record_accesses", "record_query"]

#: Words a service may use for ``action`` → FHIR AuditEvent.action and restful interaction.
ACTIONS: dict[str, tuple[Literal["C", "R", "U", "D", "E"], str]] = {
    "create": ("C", "create"),
    "read": ("R", "read"),
    "vread": ("R", "vread"),
    "history": ("R", "history-instance"),
    "update": ("U", "update"),
    "delete": ("D", "delete"),
    "search": ("E", "search-type"),
    "query": ("E", "search-type"),
    "operation": ("E", "operation"),
}

_OUTCOMES: dict[str, Literal["0", "4", "8", "12"]] = {
    "success": "0",
    "minor-failure": "4",
    "serious-failure": "8",
    "major-failure": "12",
}


async def record_access(
    uow: UnitOfWork,
    request: Request,
    *,
    patient: str,
    resource: str,
    action: str = "read",
    purpose: str | None = None,
    query: str | None = None,
    outcome: str = "success",
) -> Envelope:
    """Journal a ``hygie.access.record.accessed.v1`` for one patient in this unit of work."""
    try:
        code, interaction = ACTIONS[action]
    except KeyError:
        raise ValueError(f"action {action!r} is not one of {sorted(ACTIONS)}") from None
    if outcome not in _OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {sorted(_OUTCOMES)}")
    event = RecordAccessed(
        patient=patient,
        action=code,
        interaction=interaction,
        resource=resource,
        query=query,
        outcome=_OUTCOMES[outcome],
        **_who(request, purpose),
    )
    return uow.record(event)


def _who(request: Request, purpose: str | None) -> dict[str, Any]:
    """Who asked, for what, in which request, when: the fields every access event shares."""
    principal = getattr(request.state, "principal", None)
    claims = principal.claims if principal is not None else {}
    return {
        "agent": principal.subject if principal is not None else "anonymous",
        "roles": tuple(sorted(principal.roles)) if principal is not None else (),
        "organization": _text(claims.get("organization") or claims.get("org")),
        "purpose": purpose
        or request.headers.get("x-purpose-of-use")
        or _text(claims.get("purpose_of_use")),
        "request_id": getattr(request.state, "request_id", None),
        "occurred_at": datetime.now(UTC),
    }


async def record_accesses(
    uow: UnitOfWork,
    request: Request,
    *,
    patients: Iterable[str],
    resource: str,
    action: str = "search",
    purpose: str | None = None,
    query: str | None = None,
) -> list[Envelope]:
    """One access event per distinct patient a query returned (search results, AQL)."""
    return [
        await record_access(
            uow, request, patient=p, resource=resource, action=action, purpose=purpose, query=query
        )
        for p in dict.fromkeys(patients)
    ]


async def record_query(
    uow: UnitOfWork,
    request: Request,
    *,
    patients: Iterable[str] | None,
    resource: str,
    query: str,
    parameters: Mapping[str, Any] | None = None,
    rows: int = 0,
    purpose: str | None = None,
    outcome: str = "success",
) -> Envelope:
    """Journal one ``hygie.access.query.executed.v1`` for a query in this unit of work.

    ``patients`` are those whose data the result holds (None: the result is aggregates
    only). Up to ``QUERY_PATIENTS_LISTED`` are listed; beyond, their count and digest. A
    query that found nothing is journaled too (count 0): that it was asked, and that it
    answered nothing, are both facts an auditor may need."""
    if outcome not in _OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {sorted(_OUTCOMES)}")
    listed: tuple[str, ...] = ()
    count: int | None = None
    digest: str | None = None
    if patients is not None:
        unique = tuple(dict.fromkeys(patients))
        count = len(unique)
        if count <= QUERY_PATIENTS_LISTED:
            listed = unique
        else:
            digest = patients_digest(unique)
    event = QueryExecuted(
        resource=resource,
        query=query,
        parameters=dict(parameters) if parameters else None,
        patients=listed,
        patient_count=count,
        patients_digest=digest,
        rows=rows,
        outcome=_OUTCOMES[outcome],
        **_who(request, purpose),
    )
    return uow.record(event)


def patients_digest(patients: Iterable[str]) -> str:
    """SHA-256 (hex) of the patient ids, sorted, each once, joined by newlines."""
    return hashlib.sha256("\n".join(sorted(set(patients))).encode()).hexdigest()


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
