"""Use cases on stored queries (ITS-REST Definition API: ``/definition/query``): a query is
identified by its qualified name ``namespace::name`` and a SemVer version; a partial
version (``1`` or ``1.2``) means the latest version with that prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hygie_platform.uow import UnitOfWork

from ..aql import parse
from .errors import BadRequest, Conflict, NotFound

__all__ = ["StoredQuery", "get_stored_query", "list_stored_queries", "store_query"]

_NAME = re.compile(r"^(?:[A-Za-z0-9_.-]+::)?[A-Za-z0-9_.-]+$")
_VERSION = re.compile(r"^(\d+)(?:\.(\d+)(?:\.(\d+))?)?$")


@dataclass(frozen=True, slots=True)
class StoredQuery:
    name: str
    version: str
    query_type: str
    q: str
    saved: datetime


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise BadRequest(f"{name!r} is not a qualified query name ([namespace::]name)")
    return name


def _parts(version: str) -> tuple[int | None, ...]:
    match = _VERSION.match(version)
    if match is None:
        raise BadRequest(f"{version!r} is not a SemVer version (major.minor.patch)")
    return tuple(int(g) if g is not None else None for g in match.groups())


def _row(row: sa.Row) -> StoredQuery:
    return StoredQuery(
        row.name, f"{row.major}.{row.minor}.{row.patch}", row.query_type, row.q, row.saved
    )


_COLUMNS = "name, major, minor, patch, query_type, q, saved"


async def store_query(
    uow: UnitOfWork,
    *,
    name: str,
    version: str | None,
    q: str,
    query_type: str,
    saved_by: str | None,
    now: datetime,
) -> StoredQuery:
    """Store a new version (409 if that version exists); no version: next patch, or 1.0.0."""
    _name(name)
    if query_type.upper() != "AQL":
        raise BadRequest(f"query_type {query_type!r} is not supported (only AQL)")
    parse(q)  # AqlSyntaxError: nothing invalid is stored
    conn = uow.connection
    if version is None:
        latest = await _latest(uow, name, (None, None, None))
        parts = (1, 0, 0) if latest is None else _bump(latest.version)
    else:
        parts = _parts(version)
        if None in parts:
            raise BadRequest("storing a query takes a full version (major.minor.patch)")
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(
                    sa.text(
                        "INSERT INTO stored_query (name, major, minor, patch, query_type, q,"
                        " saved, saved_by) VALUES (:name, :major, :minor, :patch, 'AQL', :q,"
                        f" :saved, :saved_by) RETURNING {_COLUMNS}"
                    ),
                    {
                        "name": name,
                        "major": parts[0],
                        "minor": parts[1],
                        "patch": parts[2],
                        "q": q,
                        "saved": now,
                        "saved_by": saved_by,
                    },
                )
            ).one()
    except IntegrityError:
        raise Conflict(f"stored query {name} version {'.'.join(map(str, parts))} exists") from None
    return _row(row)


def _bump(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in version.split("."))
    return major, minor, patch + 1


async def _latest(uow: UnitOfWork, name: str, parts: tuple[int | None, ...]) -> StoredQuery | None:
    row = (
        await uow.connection.execute(
            sa.text(
                f"SELECT {_COLUMNS} FROM stored_query WHERE name = :name"
                " AND (CAST(:major AS int) IS NULL OR major = :major)"
                " AND (CAST(:minor AS int) IS NULL OR minor = :minor)"
                " AND (CAST(:patch AS int) IS NULL OR patch = :patch)"
                " ORDER BY major DESC, minor DESC, patch DESC LIMIT 1"
            ),
            {"name": name, "major": parts[0], "minor": parts[1], "patch": parts[2]},
        )
    ).first()
    return _row(row) if row else None


async def get_stored_query(uow: UnitOfWork, name: str, version: str | None) -> StoredQuery:
    """The stored query at that (possibly partial) version, or its latest (404 otherwise)."""
    parts = _parts(version) if version else (None, None, None)
    found = await _latest(uow, _name(name), parts)
    if found is None:
        what = f"{name} version {version}" if version else name
        raise NotFound(f"no stored query {what}")
    return found


async def list_stored_queries(uow: UnitOfWork, name: str | None = None) -> list[StoredQuery]:
    """Every stored query version, by name then version (of one name when given)."""
    rows = (
        await uow.connection.execute(
            sa.text(
                f"SELECT {_COLUMNS} FROM stored_query"
                " WHERE CAST(:name AS text) IS NULL OR name = :name"
                " ORDER BY name, major, minor, patch"
            ),
            {"name": name},
        )
    ).all()
    return [_row(r) for r in rows]
