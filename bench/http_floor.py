"""HTTP floor benchmark: the platform's own CPU per authenticated request.

``N`` authenticated GETs of a trivial route of a ``create_app`` app (body limit, trace
middleware, bearer token with a role check, a real OpenTelemetry SDK tracer provider),
driven in process through ``httpx.ASGITransport``. The CPU of the same client against a
bare ASGI app is measured too and subtracted: what is left is the server side (FastAPI,
Starlette and ``hygie_platform.http``/``security``), the floor under every service's
endpoints. Same run, for comparison: the app with FastAPI's own request tracing on.

``python -m bench.http_floor [--events N]`` (or ``python -m bench http_floor``). Pure CPU:
no database, no broker.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Depends
from rich.console import Console

from . import standalone

DEFAULT_EVENTS = 3_000
WARM_UP = 200


async def _bare(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"id":"x"}'})


async def _cpu_per_request(app: Any, n: int, headers: dict[str, str]) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(WARM_UP):
            (await client.get("/things/x", headers=headers)).raise_for_status()
        start = time.process_time()
        for _ in range(n):
            response = await client.get("/things/x", headers=headers)
        elapsed = time.process_time() - start
        response.raise_for_status()
    return elapsed / n * 1000


async def _measure(n: int) -> dict[str, float]:
    from hygie_platform.config import Settings
    from hygie_platform.http import create_app
    from hygie_platform.security import Role, TokenVerifier, issue_token, require_roles
    from hygie_platform.telemetry import setup_telemetry

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="hygie-bench-")))
    setup_telemetry("bench", settings)
    router = APIRouter()

    @router.get("/things/{tid}", dependencies=[Depends(require_roles(Role.CLINICIAN))])
    async def thing(tid: str) -> dict[str, str]:
        return {"id": tid}

    def app(**kwargs: Any) -> Any:
        return create_app(
            service="bench",
            verifier=TokenVerifier(settings),
            routers=[router],
            max_body_bytes=1 << 20,
            **kwargs,
        )

    headers = {"Authorization": "Bearer " + issue_token(settings, user="u", roles=["clinician"])}
    client = await _cpu_per_request(_bare, n, headers)
    platform = await _cpu_per_request(app(), n, headers)
    fastapi_traced = await _cpu_per_request(app(telemetry={}), n, headers)
    return {
        "client_cpu_ms_per_request": client,
        "server_cpu_ms_per_request": platform - client,
        "server_cpu_ms_per_request_with_fastapi_tracing": fastapi_traced - client,
    }


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench http_floor``."""
    n = options.events or DEFAULT_EVENTS
    results = asyncio.run(_measure(n))
    for name, value in results.items():
        console.print(f"{name:50} {value:8.3f}")
    try:
        from .machine import machine_info

        machine: dict[str, Any] | None = machine_info(broker="none")
    except ImportError:
        machine = None
    return {"benchmark": "http_floor", "requests": n, "results": results, "machine": machine}


def main() -> None:
    parser = standalone.parser("http_floor", __doc__)
    parser.add_argument("--events", type=int, default=None)
    standalone.main("http_floor", run, parser)


if __name__ == "__main__":
    main()
