"""Events of the OMOP projection, on ``hygie.omop.v1``: the change stream analysts subscribe
to (one event per OMOP row written or removed, keyed by person) and the end of a rebuild.

Rows carry pseudonymised data only (OMOP CDM 5.4 columns: integer ids, concept ids, dates,
values, source values); ``person_source_value`` is a keyed hash, never an identifier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from .base import Event

__all__ = ["OMOP_TOPIC", "OmopRebuildCompleted", "OmopRowChanged"]

OMOP_TOPIC = "hygie.omop.v1"


class OmopRowChanged(Event):
    """A row of an OMOP CDM table was written (``upsert``) or removed (``delete``).

    Keyed by ``person_id`` so that one person's changes arrive in order. ``row`` holds
    every column of the table for an upsert and only the primary key for a delete.
    """

    event_type: ClassVar[str] = "hygie.omop.row.changed.v1"
    topic: ClassVar[str] = OMOP_TOPIC
    subject_field: ClassVar[str] = "person_id"

    table: str
    row_id: int
    """the row's primary key (``person_id`` for ``person`` and ``death``)"""
    person_id: int
    op: Literal["upsert", "delete"]
    row: dict[str, Any]
    generation: int
    """the projection generation (schema) that wrote it; a rebuild starts a new one"""


class OmopRebuildCompleted(Event):
    """A blue/green rebuild caught up and now serves: consumers of the change stream
    should re-read a snapshot (row ids are stable, but rows may differ)."""

    event_type: ClassVar[str] = "hygie.omop.rebuild.completed.v1"
    topic: ClassVar[str] = OMOP_TOPIC
    subject_field: ClassVar[str] = "generation"

    generation: int
    previous_generation: int | None = None
    events_applied: int
    seconds: float
    completed_at: datetime
