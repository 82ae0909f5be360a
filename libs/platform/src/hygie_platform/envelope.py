"""CloudEvents 1.0 binary mode over Kafka (ARCHITECTURE §4.1).

The record value is the event data (JSON); the attributes travel as ``ce_*`` headers,
with W3C trace context (``traceparent``/``tracestate``) beside them. The record key is
the aggregate id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import orjson
from pydantic import ValidationError

from hygie_contracts import TYPE_PATTERN, Event, event_class

from .ids import uuid7

__all__ = [
    "Envelope",
    "MalformedEvent",
    "UnknownEventType",
    "decode_event",
    "decode_record",
    "envelope_for",
]

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = Sequence[tuple[str, bytes]]


class MalformedEvent(Exception):
    """A record that is not a valid Hygie CloudEvent (missing header, bad JSON, bad data)."""


class UnknownEventType(MalformedEvent):
    """A record whose ``ce_type`` names no event type of the contracts."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One CloudEvent: its attributes and its data (the JSON value of the record)."""

    id: UUID
    type: str
    source: str
    subject: str
    time: datetime
    data: bytes
    correlation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> bytes:
        """The record key: the aggregate id, so that order holds per aggregate."""
        return self.subject.encode()

    @property
    def dataschema(self) -> str:
        return f"schemas/{self.type}.json"

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers of binary mode."""
        out = [
            ("ce_specversion", SPECVERSION.encode()),
            ("ce_id", str(self.id).encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", _format_time(self.time).encode()),
            ("ce_subject", self.subject.encode()),
            ("ce_dataschema", self.dataschema.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.correlation_id:
            out.append(("ce_correlationid", self.correlation_id.encode()))
        if self.traceparent:
            out.append(("traceparent", self.traceparent.encode()))
        if self.tracestate:
            out.append(("tracestate", self.tracestate.encode()))
        out.extend((k, v.encode()) for k, v in self.extra.items())
        return out

    def model(self) -> Event:
        """The data parsed as its contract class (raises MalformedEvent)."""
        cls = event_class(self.type)
        if cls is None:
            raise UnknownEventType(f"unknown event type {self.type!r}")
        try:
            return cls.model_validate_json(self.data)
        except ValidationError as exc:
            raise _invalid(self.type, exc) from None


def _invalid(kind: str, exc: ValidationError) -> MalformedEvent:
    """The first validation error of an event's data, named by its path."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(root)"
    return MalformedEvent(f"{kind}: data.{where}: {err['msg']}")


def envelope_for(
    event: Event,
    *,
    source: str,
    correlation_id: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Wrap a contract event in a new envelope (fresh UUIDv7 id)."""
    return Envelope(
        id=uuid7(),
        type=event.event_type,
        source=source,
        subject=event.aggregate_id,
        time=time or datetime.now(UTC),
        # the JSON of model_dump(mode="json") written straight from the model (no dict)
        data=event.__pydantic_serializer__.to_json(event),
        correlation_id=correlation_id,
        traceparent=traceparent,
        tracestate=tracestate,
    )


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type")


def decode_record(headers: Headers | None, value: bytes | None) -> Envelope:
    """Read a Kafka record in binary mode; raise MalformedEvent naming what is wrong."""
    return _decode(headers, value)[0]


def decode_event(headers: Headers | None, value: bytes | None) -> tuple[Envelope, Event]:
    """``decode_record`` and ``Envelope.model`` in one, the data parsed once (a consumer
    of many events, such as a projection's rebuild, pays one JSON parse per event)."""
    envelope, data = _decode(headers, value)
    cls = event_class(envelope.type)
    assert cls is not None  # _decode refused unknown types
    try:
        return envelope, cls.model_validate(data)
    except ValidationError as exc:
        raise _invalid(envelope.type, exc) from None


def _decode(headers: Headers | None, value: bytes | None) -> tuple[Envelope, object]:
    """The envelope of a record and its data parsed (checks of ``decode_record``)."""
    attrs: dict[str, str] = {}
    for name, raw in headers or ():
        try:
            attrs[name] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError:
            raise MalformedEvent(f"header {name} is not UTF-8") from None
    for name in _REQUIRED:
        if not attrs.get(name):
            raise MalformedEvent(f"missing CloudEvents header {name}")
    if attrs["ce_specversion"] != SPECVERSION:
        raise MalformedEvent(f"unsupported ce_specversion {attrs['ce_specversion']!r}")
    try:
        event_id = UUID(attrs["ce_id"])
    except ValueError:
        raise MalformedEvent(f"ce_id {attrs['ce_id']!r} is not a UUID") from None
    if not TYPE_PATTERN.match(attrs["ce_type"]):
        raise MalformedEvent(f"ce_type {attrs['ce_type']!r} is not a Hygie event type")
    if event_class(attrs["ce_type"]) is None:
        raise UnknownEventType(f"unknown event type {attrs['ce_type']!r}")
    try:
        when = datetime.fromisoformat(attrs.get("ce_time") or "")
    except ValueError:
        raise MalformedEvent(f"ce_time {attrs.get('ce_time')!r} is not an RFC 3339 time") from None
    if value is None:
        raise MalformedEvent("record has no value (event data)")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"data is not JSON: {exc}") from None
    known = {
        *_REQUIRED,
        "ce_time",
        "ce_subject",
        "ce_dataschema",
        "content-type",
        "ce_correlationid",
        "traceparent",
        "tracestate",
    }
    envelope = Envelope(
        id=event_id,
        type=attrs["ce_type"],
        source=attrs["ce_source"],
        subject=attrs.get("ce_subject", ""),
        time=when,
        data=value,
        correlation_id=attrs.get("ce_correlationid"),
        traceparent=attrs.get("traceparent"),
        tracestate=attrs.get("tracestate"),
        extra={k: v for k, v in attrs.items() if k not in known},
    )
    return envelope, data
