"""Shared pieces of the FHIR routers: dependencies, body parsing, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import Depends, Request, Response

from hygie_platform.http import Problem
from hygie_platform.security import Principal, Role, require_roles
from hygie_platform.uow import UnitOfWork, UnitOfWorkFactory

from ...domain.errors import (
    IdentifierTaken,
    InvalidIdentity,
    Issue,
    MergeRefused,
    PatientNotFound,
    PreconditionFailed,
    ReviewItemClosed,
    ReviewItemNotFound,
    VersionConflict,
)
from ...domain.identity import Identifier
from ...service.context import IndexContext
from .outcome import FHIR_JSON, issues_extra

__all__ = [
    "Admin",
    "Reader",
    "Writer",
    "fhir_response",
    "identifier_param",
    "index_context",
    "json_body",
    "mapped_errors",
    "parse_uuid",
    "unit_of_work",
]

Reader = Annotated[Principal, Depends(require_roles(Role.CLINICIAN, Role.INTEGRATION, Role.ADMIN))]
Writer = Annotated[Principal, Depends(require_roles(Role.INTEGRATION, Role.ADMIN))]
#: Identity vigilance decisions (merge, unmerge, review) belong to administrators.
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def index_context(request: Request) -> IndexContext:
    ctx: IndexContext = request.app.state.patient_index
    return ctx


def unit_of_work(request: Request) -> UnitOfWork:
    factory: UnitOfWorkFactory = request.app.state.uow
    return factory()


def fhir_response(
    body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON, headers=headers)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "invalid-json", f"the body is not JSON: {exc}") from None


def parse_uuid(value: str, what: str = "Patient id") -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise Problem(404, "not-found", f"{what} {value!r} is not known") from None


def identifier_param(value: str | None, name: str = "identifier") -> Identifier:
    """``system|value`` (both required)."""
    system, sep, ident = (value or "").partition("|")
    if not sep or not system or not ident:
        raise Problem(
            400,
            "invalid-parameter",
            f"{name} must be system|value, got {value!r}",
            **issues_extra(
                [Issue("identifier", "identifier-format", f"{name} must be system|value")]
            ),
        )
    return Identifier(system, ident)


@asynccontextmanager
async def mapped_errors() -> AsyncIterator[None]:
    """Use-case errors → HTTP statuses (rendered as OperationOutcome)."""
    try:
        yield
    except InvalidIdentity as exc:
        raise Problem(400, "invalid-patient", str(exc), **issues_extra(exc.issues)) from None
    except IdentifierTaken as exc:
        raise Problem(
            409,
            "identifier-taken",
            str(exc),
            code="duplicate",
            **issues_extra([Issue("identifier", "identifier-taken", str(exc))]),
        ) from None
    except MergeRefused as exc:
        raise Problem(
            422, exc.rule, str(exc), **issues_extra([Issue("link", exc.rule, str(exc))])
        ) from None
    except (PatientNotFound, ReviewItemNotFound) as exc:
        raise Problem(404, "not-found", str(exc)) from None
    except ReviewItemClosed as exc:
        raise Problem(409, "review-closed", str(exc)) from None
    except VersionConflict as exc:
        raise Problem(409, "version-conflict", str(exc)) from None
    except PreconditionFailed as exc:
        raise Problem(412, "version-mismatch", str(exc), code="conflict") from None
