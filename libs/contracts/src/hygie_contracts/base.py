"""Base class and registry of Hygie event types (ARCHITECTURE §4.1, §4.4)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["EVENT_TYPES", "TYPE_PATTERN", "Event", "event_class", "major_of"]

#: ``hygie.<domain>.<entity>.<past-tense-verb>.v<major>``
TYPE_PATTERN = re.compile(
    r"^hygie\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*$"
)
#: ``hygie.<domain>.v<major>`` (a domain topic) or ``hygie.ingest.<domain>.v<major>``
TOPIC_PATTERN = re.compile(r"^hygie\.([a-z][a-z0-9_]*\.)?[a-z][a-z0-9_]*\.v[1-9][0-9]*$")

EVENT_TYPES: dict[str, type[Event]] = {}


def major_of(event_type: str) -> int:
    """The major version written at the end of an event type name."""
    return int(event_type.rsplit(".v", 1)[1])


class Event(BaseModel):
    """A fact that happened, announced on a topic. Frozen; versioned by its type name.

    Subclasses set ``event_type`` (CloudEvents ``type``), ``topic`` and ``subject_field``
    (the field holding the aggregate id: the record key and ``ce_subject``).
    Unknown fields are ignored on read so that a consumer built against an older minor
    version accepts events carrying new optional fields.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    subject_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is None:  # an abstract intermediate class
            return
        if not TYPE_PATTERN.match(event_type):
            raise ValueError(f"event type {event_type!r} does not follow {TYPE_PATTERN.pattern}")
        if not TOPIC_PATTERN.match(cls.topic):
            raise ValueError(f"topic {cls.topic!r} of {event_type} is not a valid Hygie topic")
        if event_type in EVENT_TYPES and EVENT_TYPES[event_type] is not cls:
            raise ValueError(f"event type {event_type} is declared twice")
        EVENT_TYPES[event_type] = cls

    @property
    def aggregate_id(self) -> str:
        """The aggregate id this event is about (record key, ``ce_subject``)."""
        return str(getattr(self, self.subject_field))


def event_class(event_type: str) -> type[Event] | None:
    """The contract class of an event type, or None when the type is unknown."""
    return EVENT_TYPES.get(event_type)
