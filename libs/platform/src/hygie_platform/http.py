"""HTTP edge shared by every service: app factory, problem details, tracing, request ids.

Errors are RFC 9457 problem details (``application/problem+json``) with a stable
``type``; a service speaking a standard's own error body (openEHR, FHIR
OperationOutcome) passes its own ``render_error``. Never a stack trace, never a 500
for bad input; PostgreSQL down is a 503.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from .db import is_connection_error
from .security import AuthError, Forbidden, TokenVerifier
from .telemetry import tracer

__all__ = ["ErrorRenderer", "Problem", "create_app", "problem_response"]

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://hygie.health/problems/"

#: ``render(status, type_slug, title, detail, extra) -> Response``
ErrorRenderer = Callable[[int, str, str, str, dict[str, Any]], Response]


class Problem(Exception):
    """An error a use case or router raises to answer with a given status."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or slug.replace("-", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int, slug: str, title: str, detail: str, extra: dict[str, Any]
) -> Response:
    """RFC 9457 problem details."""
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


def create_app(
    *,
    service: str,
    verifier: TokenVerifier | None,
    routers: Iterable[APIRouter] = (),
    health: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]] | None = None,
    render_error: ErrorRenderer = problem_response,
    max_body_bytes: int | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app with the platform's error mapping, tracing middleware and ``/health``.

    FastAPI's own request tracing is off unless asked for (``telemetry=``): the
    platform's :class:`Trace` span is the server span, and FastAPI's would be a second
    one per request plus three operation spans (~0.2-0.3 ms of CPU per request)."""
    fastapi_kwargs.setdefault("telemetry", {"tracing": False, "operation_spans": False})
    app = FastAPI(title=f"Hygie {service}", **fastapi_kwargs)
    app.state.verifier = verifier
    app.state.render_error = render_error

    def render(
        request: Request,
        status: int,
        slug: str,
        title: str,
        detail: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        response: Response = request.app.state.render_error(
            status, slug, title, detail, extra or {}
        )
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="hygie"'
        for k, v in (headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return render(request, exc.status, exc.slug, exc.title, exc.detail, exc.extra, exc.headers)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> Response:
        return render(request, 401, "unauthorized", "Unauthorized", str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, 403, "forbidden", "Forbidden", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        return render(
            request, 400, "invalid-request", "Invalid request", detail, {"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return render(
            request, exc.status_code, slug, slug.replace("-", " ").capitalize(), str(exc.detail)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if is_connection_error(exc):
            log.warning("database unavailable: %s", exc)
            return render(
                request,
                503,
                "database-unavailable",
                "Service unavailable",
                "the database cannot be reached; nothing was written",
                headers={"Retry-After": "5"},
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return render(
            request,
            500,
            "internal-error",
            "Internal error",
            f"unexpected error (request id {getattr(request.state, 'request_id', '?')})",
        )

    if health is not None:
        probe = health

        @app.get("/health", tags=["health"], include_in_schema=True)
        async def _health() -> Response:
            ok, body = await probe()
            return Response(
                orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json"
            )

    @app.get("/health/live", tags=["health"])
    async def _live() -> dict[str, str]:
        return {"status": "alive", "service": service}

    for router in routers:
        app.include_router(router)
    app.add_middleware(Trace, unexpected=_unexpected)
    if max_body_bytes is not None:
        app.add_middleware(BodyLimit, limit=max_body_bytes, render=render_error)
    return app


class Trace:
    """A server span per request, the request id and trace id headers on every answer,
    and any exception the app lets through answered by ``unexpected`` (503 when the
    database is down, else a 500 naming the request id; never a stack trace).

    Pure ASGI: no task and no memory stream per request, unlike ``BaseHTTPMiddleware``.
    """

    def __init__(
        self,
        app: Any,
        *,
        unexpected: Callable[[Request, Exception], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.unexpected = unexpected

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] = {}
        for name, value in scope.get("headers") or ():
            carrier[name.decode("latin-1")] = value.decode("latin-1")
        request_id = carrier.get("x-request-id") or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"]
        path = scope["path"]
        with tracer.start_as_current_span(
            f"{method} {path}",
            context=extract(carrier),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": path,
                "hygie.request_id": request_id,
            },
        ) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            started = False

            async def traced_send(message: Any) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    headers = MutableHeaders(scope=message)
                    headers["x-request-id"] = request_id
                    headers["x-trace-id"] = trace_id
                await send(message)

            try:
                await self.app(scope, receive, traced_send)
            except _TooLarge:
                raise  # answered 413 by BodyLimit
            except Exception as exc:  # answered here so that no stack trace leaves
                span.record_exception(exc)
                if started:
                    raise
                response = await self.unexpected(Request(scope, receive), exc)
                await response(scope, receive, traced_send)


class BodyLimit:
    """Refuse request bodies over a limit with 413: at once when ``Content-Length`` says
    so, else as soon as the body read passes the limit (whatever the app then answers
    is dropped for the 413)."""

    def __init__(self, app: Any, *, limit: int, render: ErrorRenderer) -> None:
        self.app = app
        self.limit = limit
        self.render = render

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        over = False
        started = False

        async def limited_receive() -> Any:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it could not read whole
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        response = self.render(
            413,
            "payload-too-large",
            "Payload too large",
            f"request body over {self.limit} bytes",
            {},
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
