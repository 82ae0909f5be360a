"""Read use cases: read a patient, PDQm search, PIXm cross-referencing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import sqlalchemy as sa

from hygie_platform.uow import UnitOfWork

from ..adapters.codec import source_from_row
from ..adapters.repository import PatientRepository
from ..adapters.tables import golden_record, identifier, source_record
from ..domain.golden import GoldenRecord
from ..domain.identity import Identifier, SourceRecord
from ..domain.ins import INS_OIDS
from ..domain.normalise import normalise_name
from .errors import not_found

__all__ = [
    "DateRange",
    "PatientQuery",
    "cross_reference",
    "known_systems",
    "read_patient",
    "search_patients",
    "source_for_identifier",
]


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive


@dataclass(frozen=True)
class PatientQuery:
    """PDQm (ITI-78) criteria, already parsed; all given criteria must hold (AND)."""

    ids: tuple[UUID, ...] = ()
    identifiers: tuple[tuple[str | None, str | None], ...] = ()
    family: tuple[tuple[str, bool], ...] = ()  # (value, exact)
    given: tuple[tuple[str, bool], ...] = ()
    birthdate: tuple[DateRange, ...] = ()
    gender: str | None = None
    address: tuple[tuple[str, str], ...] = ()  # (part, value): any|city|postal_code|country
    telecom: tuple[str, ...] = ()
    active: bool | None = None
    count: int = 50
    extra: dict[str, str] = field(default_factory=dict)


async def read_patient(uow: UnitOfWork, patient_id: UUID) -> GoldenRecord | SourceRecord:
    """A golden record, or else a source record, with this id."""
    repo = PatientRepository(uow.connection)
    found: GoldenRecord | SourceRecord | None = await repo.golden(patient_id)
    if found is None:
        found = await repo.source(patient_id)
    if found is None:
        raise not_found(f"Patient/{patient_id} is not known")
    return found


def _starts(column: sa.ColumnElement[str], value: str) -> sa.ColumnElement[bool]:
    """FHIR string search: a word of the name starts with the value (normalised)."""
    norm = normalise_name(value)
    return column.like(f"% {norm}%") if norm else sa.false()


def _exact(value: str, *paths: str) -> sa.ColumnElement[bool]:
    return sa.or_(*[source_record.c.traits[p].astext == value for p in paths])


def _source_conditions(q: PatientQuery) -> list[sa.ColumnElement[bool]]:
    s = source_record
    cond: list[sa.ColumnElement[bool]] = []
    for value, exact in q.family:
        cond.append(
            _exact(value, "birth_family_name", "used_family_name")
            if exact
            else _starts(s.c.family_search, value)
        )
    for value, exact in q.given:
        cond.append(
            sa.or_(
                s.c.traits["birth_given_names"].contains([value]), _exact(value, "used_given_name")
            )
            if exact
            else _starts(s.c.given_search, value)
        )
    for r in q.birthdate:
        cond.append(s.c.birth_date.between(r.start, r.end))
    if q.gender:
        cond.append(s.c.sex == q.gender)
    for system, value in q.identifiers:
        oid = (system or "").removeprefix("urn:oid:")
        if oid in INS_OIDS:
            ins = [s.c.ins_oid == oid, s.c.status.in_(("RECUP", "QUAL"))]
            cond.append(sa.and_(*ins, s.c.ins_matricule == value) if value else sa.and_(*ins))
            continue
        sub = sa.select(identifier.c.source_id)
        if system:
            sub = sub.where(identifier.c.system == system)
        if value:
            sub = sub.where(identifier.c.value == value)
        cond.append(s.c.id.in_(sub))
    for n, (part, value) in enumerate(q.address):
        key = {"city": "city", "postal_code": "postal_code", "country": "country"}.get(part)
        if key:  # FHIR string search: starts with, case-insensitive
            cond.append(
                sa.text(
                    "EXISTS (SELECT 1 FROM"
                    " jsonb_array_elements(source_record.traits->'addresses') a"
                    f" WHERE lower(a->>'{key}') LIKE :addr{n})"
                ).bindparams(**{f"addr{n}": _like_prefix(value)})
            )
        else:
            cond.append(sa.cast(s.c.traits["addresses"], sa.Text).ilike(f"%{_escape(value)}%"))
    for n, value in enumerate(q.telecom):
        cond.append(
            sa.text(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(source_record.traits->'telecoms') t"
                f" WHERE t->>'value' = :tel{n})"
            ).bindparams(**{f"tel{n}": value})
        )
    return cond


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(value: str) -> str:
    return _escape(value.lower()) + "%"


async def search_patients(uow: UnitOfWork, q: PatientQuery) -> list[GoldenRecord]:
    """Golden records of the source records meeting the criteria (merged ones by ``_id``)."""
    g = golden_record
    where: list[sa.ColumnElement[bool]] = []
    if q.ids:
        where.append(g.c.id.in_(list(q.ids)))
    cond = _source_conditions(q)
    if cond:
        where.append(g.c.id.in_(sa.select(source_record.c.golden_id).where(*cond)))
    if q.active is not None:
        where.append(g.c.active == q.active)
    if not where:
        where.append(sa.true())
    rows = (
        await uow.connection.execute(
            sa.select(g.c.id).where(*where).order_by(g.c.updated_at.desc()).limit(q.count)
        )
    ).all()
    return await PatientRepository(uow.connection).goldens([r[0] for r in rows])


async def known_systems(uow: UnitOfWork, systems: Iterable[str]) -> set[str]:
    """Those of ``systems`` that are patient identity domains of the index (one index
    probe each on the identifier primary key)."""
    known = set()
    for system in set(systems):
        if system.removeprefix("urn:oid:") in INS_OIDS:
            known.add(system)
            continue
        hit = (
            await uow.connection.execute(
                sa.select(identifier.c.system).where(identifier.c.system == system).limit(1)
            )
        ).first()
        if hit is not None:
            known.add(system)
    return known


async def source_for_identifier(uow: UnitOfWork, ident: Identifier) -> SourceRecord | None:
    """The source record of a local identifier, or of a trusted INS."""
    repo = PatientRepository(uow.connection)
    oid = ident.system.removeprefix("urn:oid:")
    if oid not in INS_OIDS:
        return await repo.source_by_identifier(ident)
    row = (
        (
            await uow.connection.execute(
                sa.select(source_record)
                .where(
                    source_record.c.ins_oid == oid,
                    source_record.c.ins_matricule == ident.value,
                    source_record.c.status.in_(("RECUP", "QUAL")),
                )
                .order_by(source_record.c.updated_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return source_from_row(row) if row else None


async def cross_reference(
    uow: UnitOfWork, source: SourceRecord
) -> tuple[GoldenRecord, list[SourceRecord]]:
    """The active golden record of a source (following replaced-by) and its sources."""
    repo = PatientRepository(uow.connection)
    assert source.golden_id is not None
    golden = await repo.golden(source.golden_id)
    hops = 0
    while golden is not None and golden.replaced_by is not None and hops < 16:
        golden, hops = await repo.golden(golden.replaced_by), hops + 1
    if golden is None:
        raise not_found(f"no patient for {source.identifier}")
    return golden, [s for s in await repo.sources_of([golden.id]) if s.active]
