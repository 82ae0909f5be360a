"""Releases of the OMOP vocabulary: list, activate (admin)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from ...adapters.releases import Release
from ...domain.errors import NotFound, UnsupportedRequest
from ...service.releases import activate_release, list_releases
from .common import Admin, Reader, to_problem

__all__ = ["router"]

router = APIRouter(prefix="/terminology", tags=["releases"])


def _json(release: Release) -> dict[str, Any]:
    return {
        "id": release.id,
        "label": release.label,
        "status": release.status,
        "source": release.source,
        "vocabularies": release.vocabularies,
        "counts": release.counts,
        "problems": release.problems[:200],
        "created_at": release.created_at.isoformat(),
        "activated_at": release.activated_at.isoformat() if release.activated_at else None,
    }


@router.get("/releases")
async def releases(request: Request, principal: Reader) -> Response:
    found = await list_releases(request.app.state.uow)
    return Response(orjson.dumps([_json(r) for r in found]), media_type="application/json")


@router.post("/releases/{release_id}/$activate")
async def activate(request: Request, release_id: int, principal: Admin) -> Response:
    try:
        release = await activate_release(request.app.state.uow, release_id)
    except (NotFound, UnsupportedRequest) as exc:
        raise to_problem(exc) from None
    cache = getattr(request.app.state, "release_cache", None)
    if cache is not None:
        cache.clear()
    return Response(orjson.dumps(_json(release)), media_type="application/json")
