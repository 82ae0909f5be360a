"""Repositories of source and golden records, over the unit of work's connection.

Uniqueness is decided by constraints (``INSERT ... ON CONFLICT DO NOTHING RETURNING``),
never by a lookup first (CONVENTIONS §7).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import IdentifierTaken, VersionConflict
from ..domain.golden import GoldenRecord
from ..domain.identity import Identifier, SourceRecord
from ..domain.ins import Ins
from .codec import golden_from_row, golden_snapshot, source_from_row, source_values
from .tables import golden_record, identifier, link_exclusion, source_record

__all__ = ["PatientRepository"]


class PatientRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # -- source records -------------------------------------------------------------

    async def source_by_identifier(
        self, ident: Identifier, *, lock: bool = False
    ) -> SourceRecord | None:
        """The source record holding a local identifier (primary or not)."""
        q = (
            sa.select(source_record)
            .join(identifier, identifier.c.source_id == source_record.c.id)
            .where(identifier.c.system == ident.system, identifier.c.value == ident.value)
        )
        if lock:
            q = q.with_for_update(of=source_record)
        row = (await self.conn.execute(q)).mappings().first()
        return source_from_row(row) if row else None

    async def source(self, source_id: UUID, *, lock: bool = False) -> SourceRecord | None:
        q = sa.select(source_record).where(source_record.c.id == source_id)
        if lock:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).mappings().first()
        return source_from_row(row) if row else None

    async def sources_of(self, golden_ids: Iterable[UUID]) -> list[SourceRecord]:
        ids = list(golden_ids)
        if not ids:
            return []
        rows = (
            await self.conn.execute(
                sa.select(source_record)
                .where(source_record.c.golden_id.in_(ids))
                .order_by(source_record.c.created_at)
            )
        ).mappings()
        return [source_from_row(r) for r in rows]

    async def add_source(self, record: SourceRecord) -> None:
        """Insert a source record and its identifiers; IdentifierTaken if one is bound."""
        values = source_values(record)
        inserted = (
            await self.conn.execute(
                insert(source_record)
                .values(values)
                .on_conflict_do_nothing(constraint="source_record_identifier_key")
                .returning(source_record.c.id)
            )
        ).first()
        if inserted is None:
            raise IdentifierTaken(str(record.identifier))
        await self._bind_identifiers(record.id, record.identifiers)

    async def _bind_identifiers(self, source_id: UUID, idents: Sequence[Identifier]) -> None:
        if not idents:
            return
        rows = [{"system": i.system, "value": i.value, "source_id": source_id} for i in idents]
        bound = {
            (r.system, r.value)
            for r in await self.conn.execute(
                insert(identifier)
                .values(rows)
                .on_conflict_do_nothing()
                .returning(identifier.c.system, identifier.c.value)
            )
        }
        for ident in idents:
            if (ident.system, ident.value) not in bound:
                raise IdentifierTaken(str(ident))

    async def update_source(self, record: SourceRecord, *, expected_version: int) -> None:
        """Write a new version of a source record (optimistic check on its version)."""
        values = source_values(record)
        del values["id"]
        done = (
            await self.conn.execute(
                sa.update(source_record)
                .where(source_record.c.id == record.id, source_record.c.version == expected_version)
                .values(values)
                .returning(source_record.c.id)
            )
        ).first()
        if done is None:
            raise VersionConflict(
                f"source record {record.id} changed since version {expected_version}"
            )
        current = {
            (r.system, r.value)
            for r in await self.conn.execute(
                sa.select(identifier.c.system, identifier.c.value).where(
                    identifier.c.source_id == record.id
                )
            )
        }
        wanted = {(i.system, i.value) for i in record.identifiers}
        for system, value in current - wanted:
            await self.conn.execute(
                sa.delete(identifier).where(
                    identifier.c.system == system, identifier.c.value == value
                )
            )
        await self._bind_identifiers(
            record.id, [i for i in record.identifiers if (i.system, i.value) not in current]
        )

    async def relink(self, source_ids: Sequence[UUID], golden_id: UUID) -> None:
        if source_ids:
            await self.conn.execute(
                sa.update(source_record)
                .where(source_record.c.id.in_(list(source_ids)))
                .values(golden_id=golden_id, updated_at=sa.func.now())
            )

    async def sources_with_ins(self, ins: Ins) -> list[SourceRecord]:
        """Active sources whose INS came from INSi (RECUP or QUAL) and equals this one."""
        rows = (
            await self.conn.execute(
                sa.select(source_record)
                .join(golden_record, golden_record.c.id == source_record.c.golden_id)
                .where(
                    source_record.c.ins_matricule == ins.matricule,
                    source_record.c.ins_oid == ins.oid,
                    source_record.c.status.in_(("RECUP", "QUAL")),
                    source_record.c.active,
                    golden_record.c.active,
                )
            )
        ).mappings()
        return [source_from_row(r) for r in rows]

    # -- golden records -------------------------------------------------------------

    async def golden(self, golden_id: UUID, *, lock: bool = False) -> GoldenRecord | None:
        q = sa.select(golden_record).where(golden_record.c.id == golden_id)
        if lock:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).mappings().first()
        return golden_from_row(row) if row else None

    async def goldens(self, ids: Sequence[UUID]) -> list[GoldenRecord]:
        if not ids:
            return []
        rows = (
            await self.conn.execute(
                sa.select(golden_record).where(golden_record.c.id.in_(list(ids)))
            )
        ).mappings()
        by_id = {r["id"]: golden_from_row(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def lock_goldens(self, ids: Iterable[UUID]) -> None:
        """Lock golden rows in id order (a stable order avoids deadlocks)."""
        for gid in sorted(set(ids)):
            await self.conn.execute(
                sa.select(golden_record.c.id).where(golden_record.c.id == gid).with_for_update()
            )

    async def add_golden(self, g: GoldenRecord) -> None:
        await self.conn.execute(
            golden_record.insert().values(
                id=g.id,
                active=g.active,
                replaced_by=g.replaced_by,
                status=g.status.value,
                record_of_truth=g.record_of_truth,
                version=g.version,
                snapshot=golden_snapshot(g),
            )
        )

    async def save_golden(self, g: GoldenRecord) -> None:
        await self.conn.execute(
            sa.update(golden_record)
            .where(golden_record.c.id == g.id)
            .values(
                active=g.active,
                replaced_by=g.replaced_by,
                status=g.status.value,
                record_of_truth=g.record_of_truth,
                version=g.version,
                snapshot=golden_snapshot(g),
                updated_at=datetime.now(UTC),
            )
        )

    # -- exclusions (an unlinked pair is never auto-linked again) ------------------------

    async def exclude(
        self, source_id: UUID, golden_id: UUID, *, by: str | None, reason: str | None
    ) -> None:
        await self.conn.execute(
            insert(link_exclusion)
            .values(source_id=source_id, golden_id=golden_id, by=by, reason=reason)
            .on_conflict_do_nothing()
        )

    async def excluded_goldens(self, source_id: UUID) -> set[UUID]:
        rows = await self.conn.execute(
            sa.select(link_exclusion.c.golden_id).where(link_exclusion.c.source_id == source_id)
        )
        return {r[0] for r in rows}

    async def forget_exclusion(self, source_id: UUID, golden_id: UUID) -> None:
        await self.conn.execute(
            sa.delete(link_exclusion).where(
                link_exclusion.c.source_id == source_id, link_exclusion.c.golden_id == golden_id
            )
        )

    async def carry_exclusions(self, from_golden: UUID, to_golden: UUID) -> None:
        """After a merge, what was said of the retired record holds for the survivor."""
        await self.conn.execute(
            sa.text(
                "INSERT INTO link_exclusion (source_id, golden_id, by, reason) "
                "SELECT source_id, :to, by, reason FROM link_exclusion WHERE golden_id = :frm "
                "ON CONFLICT DO NOTHING"
            ),
            {"to": to_golden, "frm": from_golden},
        )
