"""ITI-104 merge in a source domain: a patient identity is replaced by another one
(``active=false`` + ``link replaced-by``; ingest ``hygie.ingest.patient.replaced.v1``)."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from hygie_platform.uow import UnitOfWork

from ..adapters.repository import PatientRepository
from ..adapters.tables import source_record
from ..domain.errors import MergeRefused
from ..domain.identity import Identifier, SourceRecord
from .context import IndexContext
from .errors import not_found
from .golden_ops import refresh_golden
from .identity import RecordResult
from .links import link_source, merge_patients

__all__ = ["replace_identity"]


async def _target(repo: PatientRepository, ref: str) -> tuple[UUID, UUID | None]:
    """(golden id, source id or None) of a reference ``Patient/<id>`` or ``system|value``."""
    if ref.startswith("Patient/"):
        try:
            uid = UUID(ref.removeprefix("Patient/").split("/")[0])
        except ValueError:
            raise not_found(f"replaced-by {ref} is not a known Patient") from None
        golden = await repo.golden(uid)
        if golden is not None:
            return golden.id, None
        source = await repo.source(uid)
    else:
        system, _, value = ref.partition("|")
        source = await repo.source_by_identifier(Identifier(system, value))
    if source is None or source.golden_id is None:
        raise not_found(f"replaced-by {ref} is not a known Patient")
    return source.golden_id, source.id


async def replace_identity(
    uow: UnitOfWork, ctx: IndexContext, source: SourceRecord, ref: str, *, by: str | None
) -> RecordResult:
    """Deactivate ``source`` as replaced by ``ref`` and bring it under the survivor's golden
    record (merging its golden record when nothing else keeps it alive)."""
    repo = PatientRepository(uow.connection)
    target_golden, target_source = await _target(repo, ref)
    if target_source == source.id:
        raise MergeRefused("merge-into-self", "a patient cannot be replaced by itself")
    golden = await repo.golden(target_golden)
    if golden is None or not golden.active:
        raise MergeRefused(
            "merge-into-inactive",
            f"patient {target_golden} is inactive: merge into the active record",
        )
    await uow.connection.execute(
        sa.update(source_record)
        .where(source_record.c.id == source.id)
        .values(
            active=False,
            replaced_by=target_source,
            version=source_record.c.version + 1,
            updated_at=ctx.now(),
        )
    )
    assert source.golden_id is not None
    if source.golden_id != target_golden:
        others = [
            s for s in await repo.sources_of([source.golden_id]) if s.active and s.id != source.id
        ]
        if others:
            await link_source(uow, source.id, target_golden, by=by, reason="replaced-by")
        else:
            await merge_patients(
                uow,
                source.golden_id,
                target_golden,
                by=by,
                reason=f"{source.identifier} replaced by {ref}",
            )
    else:
        await refresh_golden(uow, target_golden)
    updated = await repo.source(source.id)
    final = await repo.golden(target_golden)
    assert updated is not None
    assert final is not None
    return RecordResult(updated, final, created=False)
