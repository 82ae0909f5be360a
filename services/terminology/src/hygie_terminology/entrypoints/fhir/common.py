"""Shared pieces of the FHIR routers: who may read, the request's catalog, error mapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from hygie_platform.http import Problem
from hygie_platform.security import Principal, Role, require_roles

from ...domain.errors import NoActiveRelease, NotFound, UnknownSystem, UnsupportedRequest
from ...service.catalog import Catalog, open_catalog
from ...service.expand import Later

__all__ = ["Admin", "Reader", "catalog", "later"]

log = logging.getLogger(__name__)

#: Terminology is reference data, not patient data: every role may read it.
Reader = Annotated[
    Principal, Depends(require_roles(Role.CLINICIAN, Role.ADMIN, Role.ANALYST, Role.INTEGRATION))
]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def to_problem(exc: Exception) -> Problem:
    if isinstance(exc, UnknownSystem):
        return Problem(
            400, "unknown-code-system", str(exc), code="not-found", expression=["system"]
        )
    if isinstance(exc, NotFound):
        return Problem(404, "not-found", str(exc), code="not-found")
    if isinstance(exc, NoActiveRelease):
        return Problem(400, "no-active-release", str(exc), code="not-supported")
    if isinstance(exc, UnsupportedRequest):
        return Problem(400, "not-supported", str(exc), code="not-supported")
    raise exc


_background: set[asyncio.Task[None]] = set()


def later(request: Request) -> Later:
    """Run work in a transaction of its own once the request is answered (storing a
    large expansion); failures are logged, the request has its answer already."""
    uow = request.app.state.uow

    def schedule(work: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                async with uow() as u:
                    await work(u.connection)
            except Exception:
                log.exception("background work of a request failed")

        task = asyncio.create_task(run())
        _background.add(task)
        task.add_done_callback(_background.discard)

    return schedule


@asynccontextmanager
async def catalog(request: Request, release: str | None = None) -> AsyncIterator[Catalog]:
    """A read transaction on the serving release; service errors become OperationOutcomes."""
    try:
        async with request.app.state.uow() as uow:
            cache = getattr(request.app.state, "release_cache", None)
            yield await open_catalog(uow.connection, release, cache=cache)
    except (UnknownSystem, NotFound, NoActiveRelease, UnsupportedRequest) as exc:
        raise to_problem(exc) from None
