"""Read and search of the stored CodeSystem, ValueSet and ConceptMap resources."""

from __future__ import annotations

from fastapi import Request, Response

from hygie_platform.http import Problem

from .common import catalog
from .outcome import fhir_response

__all__ = ["read_resource", "search_resources"]


async def read_resource(request: Request, resource_type: str, id_: str) -> Response:
    async with catalog(request) as cat:
        stored = await cat.fhir.by_id(resource_type, id_)
    if stored is None:
        raise Problem(404, "not-found", f"{resource_type}/{id_} is not known", code="not-found")
    return fhir_response(stored.content)


async def search_resources(request: Request, resource_type: str) -> Response:
    """Search by ``url`` and ``name`` (prefix); a searchset Bundle."""
    q = request.query_params
    async with catalog(request) as cat:
        found = await cat.fhir.search(resource_type, url=q.get("url"), name=q.get("name"))
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {
                    "fullUrl": f"{resource_type}/{r.id}",
                    "resource": r.content,
                    "search": {"mode": "match"},
                }
                for r in found
            ],
        }
    )
