"""Use cases: record an identity from a source system (create or update), the same rules
for the FHIR API and the ingest topic."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from hygie_contracts.patient import (
    IdentityStatusChanged,
    PatientLinked,
    PatientRegistered,
    ReviewRequested,
)
from hygie_platform.ids import uuid7
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import PatientRepository
from ..adapters.review import ReviewRepository
from ..domain.comparators import MatchView
from ..domain.errors import InvalidIdentity, PreconditionFailed
from ..domain.golden import GoldenRecord, survive
from ..domain.identity import Identifier, SourceRecord
from ..domain.rniv import reconcile_status
from ..domain.scoring import Decision, Outcome
from ..domain.validation import validate_record
from .context import IndexContext
from .events import contract_identifier, contract_ins, snapshot_event
from .golden_ops import refresh_golden
from .matching import find_match

__all__ = ["RecordResult", "open_review", "record_identity"]


@dataclass(frozen=True)
class RecordResult:
    source: SourceRecord
    golden: GoldenRecord
    created: bool
    """The source record was created (HTTP 201)."""
    changed: bool = True
    new_golden: bool = False
    decision: Decision | None = None


async def record_identity(
    uow: UnitOfWork,
    ctx: IndexContext,
    draft: SourceRecord,
    *,
    by: str | None,
    lookup: Identifier | None = None,
    create_only: bool = False,
    expected_version: int | None = None,
) -> RecordResult:
    """Create the source record of ``draft`` (matching it to a golden record) or update the
    one holding ``lookup`` (default: the draft's identifier). Nothing is stored on error;
    with ``create_only`` an identifier already bound is an error (IdentifierTaken); with
    ``expected_version`` (If-Match) the record must exist at that version
    (PreconditionFailed)."""
    issues = validate_record(draft, today=ctx.today())
    if issues:
        raise InvalidIdentity(issues)
    repo = PatientRepository(uow.connection)
    if create_only:
        return await _register(uow, ctx, draft, by=by)
    existing = await repo.source_by_identifier(lookup or draft.identifier, lock=True)
    if expected_version is not None and (existing is None or existing.version != expected_version):
        current = f"version {existing.version}" if existing else "no such record"
        raise PreconditionFailed(
            f"If-Match names version {expected_version} of {lookup or draft.identifier}: {current}"
        )
    if existing is None:
        return await _register(uow, ctx, draft, by=by)
    return await _update(uow, ctx, existing, draft)


async def _register(
    uow: UnitOfWork, ctx: IndexContext, draft: SourceRecord, *, by: str | None
) -> RecordResult:
    repo = PatientRepository(uow.connection)
    record = draft.evolve(id=uuid7(), version=1, updated_at=ctx.now(), golden_id=None)
    decision, method = await find_match(uow.connection, ctx, record)
    if decision.outcome is Outcome.LINK and decision.golden_id is not None:
        await repo.lock_goldens([decision.golden_id])
        record = record.evolve(golden_id=decision.golden_id)
        await repo.add_source(record)
        golden = await refresh_golden(uow, decision.golden_id)
        created = False
    else:
        golden_id = uuid7()
        record = record.evolve(golden_id=golden_id)
        golden = survive(golden_id, [record])
        await repo.add_golden(golden)
        await repo.add_source(record)
        uow.record(snapshot_event(PatientRegistered, golden))
        method, created = "new", True
    score = decision.score.weight if decision.score and not created else None
    uow.record(
        PatientLinked(
            patient_id=golden.id,
            source_identifier=contract_identifier(record.identifier),
            method=method,
            score=score,
            by=by,
        )
    )  # type: ignore[arg-type]
    if decision.review and decision.golden_id is not None and decision.score is not None:
        await open_review(
            uow,
            record,
            golden.id,
            decision.golden_id,
            score=decision.score.weight,
            contributions=decision.score.as_dict(),
            reason=decision.reason or "review",
        )
    return RecordResult(record, golden, created=True, decision=decision, new_golden=created)


async def open_review(
    uow: UnitOfWork,
    record: SourceRecord,
    patient_id: UUID,
    candidate_id: UUID,
    *,
    score: float,
    contributions: dict[str, object],
    reason: str,
) -> None:
    """Queue a possible duplicate (once per open pair) and announce it."""
    review_id = uuid7()
    opened = await ReviewRepository(uow.connection).open(
        item_id=review_id,
        source_id=record.id,
        candidate_id=candidate_id,
        score=score,
        contributions=contributions,
        reason=reason,
    )
    if opened:
        uow.record(
            ReviewRequested(
                patient_id=patient_id,
                review_id=review_id,
                candidate_id=candidate_id,
                score=score,
                reason=reason,
                source_identifier=contract_identifier(record.identifier),
            )
        )


async def _update(
    uow: UnitOfWork, ctx: IndexContext, existing: SourceRecord, draft: SourceRecord
) -> RecordResult:
    repo = PatientRepository(uow.connection)
    strict_changed = existing.traits.strict_differs(draft.traits) or existing.ins != draft.ins
    reattested = draft.validation_date is not None and (
        existing.validation_date is None or draft.validation_date > existing.validation_date
    )
    status = reconcile_status(
        existing.status, draft.status, strict_changed=strict_changed, reattested=reattested
    )
    others = tuple(i for i in draft.identifiers if i != existing.identifier)
    new = draft.evolve(
        id=existing.id,
        identifier=existing.identifier,
        other_identifiers=others,
        status=status,
        golden_id=existing.golden_id,
        replaced_by=existing.replaced_by if not draft.active else None,
        version=existing.version + 1,
        updated_at=ctx.now(),
    )
    same = (
        new.traits == existing.traits
        and new.status == existing.status
        and new.ins == existing.ins
        and new.other_identifiers == existing.other_identifiers
        and new.active == existing.active
        and new.billing_nir == existing.billing_nir
        and new.validation_date == existing.validation_date
    )
    assert existing.golden_id is not None
    if same:
        golden = await repo.golden(existing.golden_id)
        assert golden is not None
        return RecordResult(existing, golden, created=False, changed=False)
    await repo.lock_goldens([existing.golden_id])
    await repo.update_source(new, expected_version=existing.version)
    golden = await refresh_golden(uow, existing.golden_id)
    if new.status != existing.status:
        uow.record(
            IdentityStatusChanged(
                patient_id=golden.id,
                source_identifier=contract_identifier(new.identifier),
                previous_status=existing.status.value,
                identity_status=new.status.value,
                ins=contract_ins(new.shareable_ins),
            )
        )
    await _flag_shared_ins(uow, ctx, existing, new)
    if strict_changed:
        await _rematch(uow, ctx, new)
    return RecordResult(new, golden, created=False)


async def _rematch(uow: UnitOfWork, ctx: IndexContext, record: SourceRecord) -> None:
    """Corrected strict traits may reveal a duplicate: it is queued for review, never
    merged automatically (the record already has its own golden record)."""
    assert record.golden_id is not None
    excluded = {record.golden_id} | await PatientRepository(uow.connection).excluded_goldens(
        record.id
    )
    decision, _ = await find_match(uow.connection, ctx, record, excluded=excluded)
    if (
        decision.golden_id is not None
        and decision.score is not None
        and decision.outcome is not Outcome.NEW
    ):
        await open_review(
            uow,
            record,
            record.golden_id,
            decision.golden_id,
            score=decision.score.weight,
            contributions=decision.score.as_dict(),
            reason="match-after-update",
        )


async def _flag_shared_ins(
    uow: UnitOfWork, ctx: IndexContext, before: SourceRecord, after: SourceRecord
) -> None:
    """A newly trusted INS already held by another patient: a duplicate to review."""
    ins = after.trusted_ins
    if ins is None or ins == before.trusted_ins:
        return
    repo = PatientRepository(uow.connection)
    for other in await repo.sources_with_ins(ins):
        if other.golden_id not in (None, after.golden_id):
            s = ctx.model.score(MatchView(after), MatchView(other))
            assert after.golden_id is not None
            assert other.golden_id is not None
            await open_review(
                uow,
                after,
                after.golden_id,
                other.golden_id,
                score=s.weight,
                contributions=s.as_dict(),
                reason="same-ins-other-patient",
            )
