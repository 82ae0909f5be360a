"""The HTTP edge and start-up: tokens and roles, problem details, database down, bad
configuration stopping start-up with one clear line."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request

from hygie_platform.db import asyncpg_dsn, create_engine
from hygie_platform.http import create_app
from hygie_platform.security import issue_token
from hygie_platform.testing import start_service
from hygie_platform.testing.probe import PRODUCER
from hygie_platform.uow import UnitOfWorkFactory


async def test_every_api_requires_a_valid_bearer_token_and_the_right_role(hygie_settings):
    async with start_service(PRODUCER, hygie_settings, background=False) as ehr:
        url = "/probe/items/a?value=1"
        missing = await ehr.client.post(url)
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["type"].endswith("/unauthorized")

        other_key = ec.generate_private_key(ec.SECP256R1())
        forged = jwt.encode(
            {
                "iss": hygie_settings.auth_issuer,
                "aud": "hygie",
                "sub": "x",
                "roles": ["admin"],
                "exp": int(time.time()) + 60,
            },
            other_key,
            algorithm="ES256",
        )
        wrong_aud = issue_token(
            hygie_settings.model_copy(update={"auth_audience": "other"}), user="u", roles=["admin"]
        )
        expired = issue_token(hygie_settings, user="u", roles=["admin"], ttl_seconds=-120)
        for token in (forged, wrong_aud, expired, "not-a-jwt"):
            resp = await ehr.client.post(url, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401, token
            assert "invalid bearer token" in resp.json()["detail"]

        analyst = await ehr.client.post(url, headers=ehr.auth("analyst"))
        assert analyst.status_code == 403
        assert analyst.json()["detail"] == "role clinician or integration required"
        assert (await ehr.client.post(url, headers=ehr.auth("clinician"))).status_code == 201

        for path in ("/health", "/health/live"):
            assert (await ehr.client.get(path)).status_code in (200, 503)


async def test_bad_input_gets_problem_details_never_a_500(hygie_settings):
    async with start_service(PRODUCER, hygie_settings, background=False) as ehr:
        auth = ehr.auth("clinician")
        bad = await ehr.client.post("/probe/items/a?value=notanumber", headers=auth)
        assert bad.status_code == 400
        assert [e["path"] for e in bad.json()["errors"]] == ["query.value"]
        unknown = await ehr.client.get("/nowhere", headers=auth)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        huge = await ehr.client.post(
            "/probe/items/a?value=1", headers=auth, content=b"{" + b" " * (17 * 1024 * 1024) + b"}"
        )
        assert huge.status_code == 413
        assert huge.json()["type"].endswith("/payload-too-large")


async def test_a_body_streamed_over_the_limit_gets_413_whatever_reads_it():
    router = APIRouter()

    @router.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"n": len(await request.body())}

    @router.post("/json")
    async def parsed(doc: dict[str, str]) -> dict[str, int]:
        return {"n": len(doc)}

    app = create_app(service="t", verifier=None, routers=[router], max_body_bytes=1000)

    async def chunks():  # no Content-Length: the limit is met while reading
        for _ in range(5):
            yield b'{"a": "' + b" " * 400 + b'"}'

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/raw", content=b"x" * 10)).json() == {"n": 10}
        for path in ("/raw", "/json"):
            resp = await c.post(path, content=chunks())
            assert resp.status_code == 413, (path, resp.text)
            assert resp.json()["type"].endswith("/payload-too-large")


async def test_database_down_answers_503_and_writes_nothing(hygie_settings):
    async with start_service(PRODUCER, hygie_settings, background=False) as ehr:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead_port = sock.getsockname()[1]
        down = hygie_settings.model_copy(
            update={"database_url": f"postgresql://postgres@127.0.0.1:{dead_port}/postgres"}
        )
        app = ehr.runtime.app
        assert app is not None
        healthy_uow = app.state.uow
        dead_engine = create_engine(down, "nowhere")
        app.state.uow = UnitOfWorkFactory(dead_engine, source="/hygie/ehr")
        try:
            resp = await ehr.client.post("/probe/items/a?value=1", headers=ehr.auth("clinician"))
            assert resp.status_code == 503
            assert resp.json()["type"].endswith("/database-unavailable")
            assert resp.headers["retry-after"] == "5"
        finally:
            app.state.uow = healthy_uow
            await dead_engine.dispose()
        assert await ehr.fetch("SELECT count(*) AS n FROM journal") == [{"n": 0}]


async def test_pooled_connections_closed_by_the_server_are_replaced_without_an_error(
    hygie_settings,
):
    async with start_service(PRODUCER, hygie_settings, background=False) as ehr:
        auth = ehr.auth("clinician")
        first = await ehr.client.post("/probe/items/a?value=1", headers=auth)
        assert first.status_code == 201
        assert first.headers["x-request-id"]
        assert len(first.headers["x-trace-id"]) == 32
        # What a PostgreSQL restart does to a pool: every idle connection is closed.
        assert ehr.runtime.engine is not None
        database = ehr.runtime.engine.url.database
        admin = await asyncpg.connect(asyncpg_dsn(hygie_settings.database_url))
        try:
            killed = await admin.fetch(
                "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1",
                database,
            )
        finally:
            await admin.close()
        assert killed
        assert all(row["ok"] for row in killed)
        await asyncio.sleep(0.2)
        again = await ehr.client.post(
            "/probe/items/b?value=2", headers={**auth, "x-request-id": "r-42"}
        )
        assert again.status_code == 201, again.text
        assert again.headers["x-request-id"] == "r-42"
        rows = await ehr.fetch("SELECT count(*) AS n FROM journal")
        assert rows == [{"n": 2}]


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HYGIE_")}
    return subprocess.run(
        [sys.executable, "-m", "hygie_ehr"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HYGIE_KAFAK": "127.0.0.1:9092"}, "HYGIE_KAFAK: unknown setting"),
        ({"HYGIE_TOPIC_PARTITIONS": "zero"}, "HYGIE_TOPIC_PARTITIONS"),
        ({"HYGIE_DATABASE_URL": "mysql://x"}, "HYGIE_DATABASE_URL"),
    ],
)
def test_bad_configuration_stops_start_up_with_one_line_naming_the_setting(env, named):
    result = _start(env)
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert named in lines[0]


def test_unreachable_database_and_busy_port_stop_start_up(hygie_infra, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    result = _start(
        {
            "HYGIE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead}/postgres",
            "HYGIE_EHR_PORT": "0",
            "HYGIE_HOME": str(tmp_path),
        }
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("hygie-ehr: HYGIE_DATABASE_URL: cannot connect")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _start({"HYGIE_EHR_PORT": str(port), "HYGIE_HOME": str(tmp_path)})
    assert result.returncode == 2
    assert f"HYGIE_EHR_PORT: port {port} on 127.0.0.1 is not free" in result.stderr


async def test_one_server_span_per_request_carrying_the_request_id(hygie_home):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from hygie_platform.config import Settings
    from hygie_platform.telemetry import add_span_processor, setup_telemetry

    setup_telemetry("edge", Settings(home=hygie_home))
    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter))
    router = APIRouter()

    @router.get("/things/{tid}")
    async def thing(tid: str) -> dict[str, str]:
        return {"id": tid}

    app = create_app(service="t", verifier=None, routers=[router])
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        resp = await c.get("/things/x", headers={"x-request-id": "r-7", "traceparent": parent})
    assert resp.status_code == 200
    assert resp.headers["x-request-id"] == "r-7"
    assert resp.headers["x-trace-id"] == "0af7651916cd43dd8448eb211c80319c"
    servers = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.context.trace_id == int(parent[3:35], 16)
    ]
    assert [s.name for s in servers] == ["GET /things/x"]
    assert servers[0].attributes["hygie.request_id"] == "r-7"
    assert servers[0].attributes["http.response.status_code"] == 200
