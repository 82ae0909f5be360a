"""OpenTelemetry tracing and metrics in one call; JSON logs carrying trace ids (ARCHITECTURE §8)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .config import Settings

__all__ = [
    "JsonFormatter",
    "add_span_processor",
    "context_from_trace_headers",
    "current_trace_headers",
    "instruments",
    "setup_logging",
    "setup_telemetry",
    "tracer",
]

tracer = trace.get_tracer("hygie")
_provider: TracerProvider | None = None


def setup_telemetry(service: str, settings: Settings) -> None:
    """Install the tracer and meter providers once per process; OTLP export only when
    ``HYGIE_OTEL_ENDPOINT`` is set (nothing leaves the machine otherwise)."""
    global _provider
    if _provider is not None:
        return
    resource = Resource.create({"service.name": f"hygie-{service}", "service.namespace": "hygie"})
    _provider = TracerProvider(resource=resource)
    readers = []
    if settings.otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        base = settings.otel_endpoint.rstrip("/")
        _provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
        )
        readers.append(
            PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
        )
    trace.set_tracer_provider(_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def add_span_processor(processor: SpanProcessor) -> None:
    """Attach a span processor (tests use an in-memory exporter)."""
    if _provider is None:
        raise RuntimeError("setup_telemetry() first")
    _provider.add_span_processor(processor)


def current_trace_headers() -> dict[str, str]:
    """W3C ``traceparent``/``tracestate`` of the current span (empty when none)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def context_from_trace_headers(traceparent: str | None, tracestate: str | None) -> Context:
    """The context a consumer continues from, read from the record's headers."""
    carrier = {}
    if traceparent:
        carrier["traceparent"] = traceparent
    if tracestate:
        carrier["tracestate"] = tracestate
    return extract(carrier)


class _Instruments:
    """Platform metrics (events in/out, handler latency, dead letters)."""

    def __init__(self) -> None:
        meter = metrics.get_meter("hygie")
        self.published = meter.create_counter("hygie.events.published", unit="{event}")
        self.consumed = meter.create_counter("hygie.events.consumed", unit="{event}")
        self.dead_lettered = meter.create_counter("hygie.events.dead_lettered", unit="{event}")
        self.handler_seconds = meter.create_histogram("hygie.handler.duration", unit="s")


_instruments: _Instruments | None = None


def instruments() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the trace and span ids of the current span."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup_logging(service: str, settings: Settings) -> None:
    """Structured logs on stderr (JSON unless HYGIE_LOG_JSON=false)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
