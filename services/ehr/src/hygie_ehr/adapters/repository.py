"""EHR repository over the unit of work's connection."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hygie_contracts import PartyRef
from hygie_platform.uow import driver_of

from ..domain.ehr import Ehr
from ..service.errors import SubjectHasEhr
from .prepared import EHR_WITH_TEMPLATE
from .tables import ehr as ehr_table

__all__ = ["EhrRepository"]


class EhrRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, ehr: Ehr, *, created_by: str | None) -> None:
        """Insert; the unique index on the subject refuses a second EHR (no lookup first)."""
        values = {
            "ehr_id": ehr.ehr_id,
            "system_id": ehr.system_id,
            "time_created": ehr.time_created,
            "subject_namespace": ehr.subject.namespace if ehr.subject else None,
            "subject_id": ehr.subject.id if ehr.subject else None,
            "ehr_status_id": ehr.ehr_status_id,
            "is_queryable": ehr.is_queryable,
            "is_modifiable": ehr.is_modifiable,
            "created_by": created_by,
        }
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(ehr_table.insert().values(values))
        except IntegrityError as exc:
            if "ehr_subject_unique" in str(exc.orig):
                raise SubjectHasEhr(ehr.subject) from None
            if "ehr_pkey" in str(exc.orig):
                raise SubjectHasEhr(None, ehr_id=ehr.ehr_id) from None
            raise

    async def get(self, ehr_id: UUID) -> Ehr | None:
        row = (
            (await self.conn.execute(ehr_table.select().where(ehr_table.c.ehr_id == ehr_id)))
            .mappings()
            .first()
        )
        return _ehr(row) if row is not None else None

    async def get_with_template(
        self, ehr_id: UUID, template_id: str
    ) -> tuple[Ehr | None, str | None]:
        """The EHR and the stored hash of a template, in one round trip (commit path)."""
        driver = await driver_of(self.conn)
        row = await driver.fetchrow(EHR_WITH_TEMPLATE, ehr_id, template_id)
        if row is None:
            return None, None
        return _ehr(row), row["template_sha256"]

    async def find_by_subject(self, subject: PartyRef) -> Ehr | None:
        """The EHR of a subject (by the unique index on namespace and id)."""
        row = (
            (
                await self.conn.execute(
                    ehr_table.select().where(
                        ehr_table.c.subject_namespace == subject.namespace,
                        ehr_table.c.subject_id == subject.id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return _ehr(row) if row is not None else None

    async def set_directory(self, ehr_id: UUID, directory_id: UUID) -> None:
        """The EHR's directory (its versioned FOLDER), set once when first created."""
        await self.conn.execute(
            ehr_table.update().where(ehr_table.c.ehr_id == ehr_id).values(directory_id=directory_id)
        )

    async def set_status(
        self, ehr_id: UUID, *, subject: PartyRef | None, is_queryable: bool, is_modifiable: bool
    ) -> None:
        """Project a new EHR_STATUS onto the EHR row (the subject stays unique)."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    ehr_table.update()
                    .where(ehr_table.c.ehr_id == ehr_id)
                    .values(
                        subject_namespace=subject.namespace if subject else None,
                        subject_id=subject.id if subject else None,
                        is_queryable=is_queryable,
                        is_modifiable=is_modifiable,
                    )
                )
        except IntegrityError as exc:
            if "ehr_subject_unique" in str(exc.orig):
                raise SubjectHasEhr(subject) from None
            raise


def _ehr(row: Any) -> Ehr:
    subject = (
        PartyRef(namespace=row["subject_namespace"], id=row["subject_id"])
        if row["subject_id"] is not None
        else None
    )
    return Ehr(
        ehr_id=row["ehr_id"],
        system_id=row["system_id"],
        time_created=row["time_created"],
        subject=subject,
        ehr_status_id=row["ehr_status_id"],
        is_queryable=row["is_queryable"],
        is_modifiable=row["is_modifiable"],
        directory_id=row["directory_id"],
    )
