"""Hygie contracts: every event type, versioned, and the public models shared across services."""

from . import patient
from .base import EVENT_TYPES, TOPIC_PATTERN, TYPE_PATTERN, Event, event_class, major_of
from .ehr import EHR_TOPIC, EhrCreated, PartyRef
from .patient import PATIENT_TOPIC

__all__ = [
    "EHR_TOPIC",
    "EVENT_TYPES",
    "PATIENT_TOPIC",
    "TOPIC_PATTERN",
    "TYPE_PATTERN",
    "EhrCreated",
    "Event",
    "PartyRef",
    "event_class",
    "major_of",
    "patient",
]
