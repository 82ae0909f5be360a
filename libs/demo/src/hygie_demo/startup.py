"""What ``hygie up`` asks of the demo package once the services answer: upload the
project's templates the EHR store does not have yet (through its public API)."""

from __future__ import annotations

import asyncio

import httpx

from hygie_platform.config import Settings
from hygie_platform.security import issue_token

from .client import EHR_API, ensure_templates

__all__ = ["upload_missing_templates"]


def upload_missing_templates(settings: Settings, *, timeout: float = 30) -> dict[str, str]:
    """template id -> 'created' | 'existing' | 'conflict: ...' (raises when the EHR store
    cannot be reached)."""

    async def run() -> dict[str, str]:
        token = issue_token(settings, user="hygie-up", roles=["integration"], ttl_seconds=300)
        async with httpx.AsyncClient(
            base_url=settings.url_of("ehr") + EHR_API, timeout=timeout
        ) as client:
            return await ensure_templates(client, {"Authorization": f"Bearer {token}"})

    return asyncio.run(run())
