"""AuditEvent search (IHE ATX ITI-81 style): patient, agent, date range, type/subtype,
action, outcome, entity; keyset paging by log position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.tables import audit_entry

__all__ = ["InvalidSearch", "SearchQuery", "read_event", "search_events"]

MAX_COUNT = 1000
_PREFIXES = ("ge", "gt", "le", "lt", "eq")


class InvalidSearch(ValueError):
    """A search parameter that cannot be understood (HTTP 400)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass(frozen=True)
class SearchQuery:
    patient: str | None = None
    agent: str | None = None
    dates: tuple[str, ...] = ()
    type: str | None = None
    subtype: str | None = None
    action: str | None = None
    outcome: str | None = None
    entity: str | None = None
    count: int = 50
    after: int = -1


def _token(value: str) -> str:
    """``system|code`` or ``code`` → code."""
    return value.rpartition("|")[2]


def _date(param: str) -> sa.ColumnElement[bool]:
    prefix, text = (param[:2], param[2:]) if param[:2] in _PREFIXES else ("eq", param)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            end = start + timedelta(days=1)
        else:
            start = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            end = start
    except ValueError:
        raise InvalidSearch("date", f"{param!r} is not a FHIR date or dateTime") from None
    col = audit_entry.c.recorded
    return {
        "ge": col >= start,
        "gt": col >= end if end != start else col > start,
        "le": col < end if end != start else col <= start,
        "lt": col < start,
        "eq": sa.and_(col >= start, col < end) if end != start else col == start,
    }[prefix]


def _where(q: SearchQuery) -> list[sa.ColumnElement[bool]]:
    c = audit_entry.c
    where: list[sa.ColumnElement[bool]] = [c.seq > q.after]
    if q.patient:
        where.append(c.patient == q.patient)
    if q.agent:
        where.append(c.agents.contains([q.agent]))
    where += [_date(d) for d in q.dates]
    if q.type:
        where.append(c.type == _token(q.type))
    if q.subtype:
        where.append(c.subtypes.contains([_token(q.subtype)]))
    if q.action:
        where.append(c.action == q.action)
    if q.outcome:
        where.append(c.outcome == q.outcome)
    if q.entity:
        where.append(c.entities.contains([q.entity]))
    return where


async def search_events(conn: AsyncConnection, q: SearchQuery) -> tuple[list[Any], int | None]:
    """Matching records in log order, and the position to continue after (None at the end)."""
    if not 1 <= q.count <= MAX_COUNT:
        raise InvalidSearch("_count", f"must be between 1 and {MAX_COUNT}")
    rows = (
        await conn.execute(
            sa.select(audit_entry.c.seq, audit_entry.c.body)
            .where(*_where(q))
            .order_by(audit_entry.c.seq)
            .limit(q.count + 1)
        )
    ).all()
    more = len(rows) > q.count
    rows = rows[: q.count]
    resources = [_resource(r.seq, r.body) for r in rows]
    return resources, (rows[-1].seq if more else None)


def _resource(seq: int, body: bytes) -> dict[str, Any]:
    resource: dict[str, Any] = orjson.loads(body)["resource"]
    resource["meta"] = {
        "extension": [{"url": "urn:hygie:audit-log-position", "valueInteger64": str(seq)}]
    }
    return resource


async def read_event(conn: AsyncConnection, event_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(audit_entry.c.seq, audit_entry.c.body).where(
                sa.cast(audit_entry.c.event_id, sa.Text) == event_id
            )
        )
    ).first()
    return _resource(row.seq, row.body) if row else None
