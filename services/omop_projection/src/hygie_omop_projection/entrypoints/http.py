"""HTTP API of the projection: status, rebuild, unmapped report, lineage (explain), DQ."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text

from hygie_platform.http import Problem
from hygie_platform.security import Role, require_roles

from ..adapters.cdm import CDM_TABLES, PRIMARY_KEYS
from ..service.dq import as_json, run_checks
from ..service.generations import Generations, RebuildInProgress

__all__ = ["router"]

router = APIRouter(prefix="/omop", tags=["omop"])
reader = Depends(require_roles(Role.ANALYST, Role.ADMIN))
admin = Depends(require_roles(Role.ADMIN))


def _generations(request: Request) -> Generations:
    return request.app.state.generations  # type: ignore[no-any-return]


@router.get("/status", dependencies=[reader])
async def status(request: Request) -> dict[str, Any]:
    """Serving and building generations with their progress (events/s, lag, ETA)."""
    return await _generations(request).status()


@router.post("/rebuild", status_code=202, dependencies=[admin])
async def rebuild(request: Request) -> dict[str, Any]:
    """Start a blue/green rebuild; the serving generation keeps serving until the swap."""
    try:
        generation = await _generations(request).rebuild()
    except RebuildInProgress as exc:
        raise Problem(409, "rebuild-in-progress", str(exc)) from None
    return {"generation": generation.generation, "schema": generation.schema}


@router.get("/unmapped", dependencies=[reader])
async def unmapped(request: Request, limit: int = 1000) -> dict[str, Any]:
    """Source codes and nodes that could not be projected, counted, most frequent first."""
    schema = await _serving_schema(request)
    async with request.app.state.uow() as uow:
        rows = await uow.connection.execute(
            text(
                f"SELECT kind, archetype_id, system, code, min(detail) AS detail, count(*) AS n "
                f"FROM {schema}.problem GROUP BY kind, archetype_id, system, code "
                "ORDER BY n DESC, kind, archetype_id, system, code LIMIT :limit"
            ),
            {"limit": limit},
        )
        items = [dict(r) for r in rows.mappings()]
    return {"generation_schema": schema, "items": items}


@router.get("/explain/{table}/{row_id}", dependencies=[reader])
async def explain(request: Request, table: str, row_id: int) -> dict[str, Any]:
    """Where an OMOP row came from: EHR, composition version, archetype path, event id."""
    if table not in CDM_TABLES or table not in PRIMARY_KEYS:
        raise Problem(404, "unknown-table", f"{table} is not a projected OMOP table")
    schema = await _serving_schema(request)
    async with request.app.state.uow() as uow:
        rows = await uow.connection.execute(
            text(
                f"SELECT omop_table, omop_id, person_id, ehr_id, versioned_object_id, "
                f"version_uid, archetype_path, event_id FROM {schema}.lineage "
                "WHERE omop_table = :t AND omop_id = :i"
            ),
            {"t": table, "i": row_id},
        )
        found = rows.mappings().first()
    if found is None:
        raise Problem(404, "no-lineage", f"no {table} row {row_id} from a composition")
    return {k: str(v) if k in ("ehr_id", "event_id") else v for k, v in found.items()}


async def _serving_schema(request: Request) -> str:
    serving, _ = await _generations(request).current()
    if serving is None:
        raise Problem(503, "not-ready", "the projection has no serving generation yet")
    return serving.schema


@router.post("/dq", dependencies=[reader])
async def data_quality(request: Request, run_date: date) -> dict[str, Any]:
    """Run the DQD checks on the serving generation (definitions from the configured folder)."""
    definitions: Path | None = request.app.state.dq_definitions
    if definitions is None or not await asyncio.to_thread(definitions.exists):
        raise Problem(503, "no-dq-definitions", "the DQD definition files are not configured")
    schema = await _serving_schema(request)
    async with request.app.state.uow() as uow:
        results = await run_checks(uow.connection, schema, definitions, run_date=run_date)
    return as_json(results, run_date=run_date, schema=schema)
