"""Waiting for the platform to catch up: outbox backlogs and consumer lags 0 in every
service's health, and the OMOP generation's lag 0."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from hygie_platform.config import Settings
from hygie_platform.security import issue_token

__all__ = ["wait_caught_up"]


async def wait_caught_up(
    settings: Settings, *, timeout: float = 600, started: float | None = None
) -> dict[str, Any]:
    """Poll the services' health (outbox backlog, consumer lag) and the OMOP status until
    nothing is left to deliver; seconds until OMOP and audit each reached lag 0."""
    started = started or time.monotonic()
    token = issue_token(settings, user="demo-hospital-admin", roles=["admin"], ttl_seconds=3600)
    headers = {"Authorization": f"Bearer {token}"}
    done: dict[str, float | None] = {"omop_projection": None, "audit": None, "platform": None}
    last: dict[str, Any] = {}
    stable = 0
    async with httpx.AsyncClient(timeout=10) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending: dict[str, Any] = {}
            for name in ("ehr", "patient_index", "terminology", "audit", "omop_projection"):
                try:
                    body = (await client.get(f"{settings.url_of(name)}/health")).json()
                except (httpx.HTTPError, ValueError):
                    continue  # a service that is not running has nothing to deliver
                lag = sum(int(c.get("lag") or 0) for c in body.get("consumers", []))
                backlog = int(body.get("outbox_backlog") or 0)
                if lag or backlog:
                    pending[name] = {"lag": lag, "outbox": backlog}
            omop_lag = await _omop_lag(client, settings, headers)
            if omop_lag:
                pending.setdefault("omop_projection", {})["generation_lag"] = omop_lag
            now = time.monotonic() - started
            for name in ("omop_projection", "audit"):
                if name not in pending and done[name] is None:
                    done[name] = round(now, 1)
                elif name in pending:
                    done[name] = None
            last = pending
            stable = stable + 1 if not pending else 0
            if stable >= 3:  # three quiet polls in a row: nothing in flight
                done["platform"] = round(now, 1)
                break
            await asyncio.sleep(1)
    return {"seconds_until_lag_0": done, "still_pending": last}


async def _omop_lag(client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]) -> int:
    try:
        resp = await client.get(
            f"{settings.url_of('omop_projection')}/omop/status", headers=headers
        )
        body = resp.json()
    except (httpx.HTTPError, ValueError):
        return 0
    serving = body.get("serving")
    progress = body.get(f"g{serving}") if serving is not None else None
    if not isinstance(progress, dict):
        return 0
    return int(progress.get("lag") or 0)
