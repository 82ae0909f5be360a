"""Use cases on EHRs and their versioned EHR_STATUS; each runs inside one unit of work."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from hygie_contracts import PartyRef
from hygie_contracts.ehr import EhrStatusUpdated
from hygie_platform.uow import UnitOfWork

from ..adapters.erasure import ErasureStore
from ..adapters.repository import EhrRepository
from ..adapters.templates import TemplateCache
from ..adapters.versions import StaleVersion, VersionStore
from ..domain.ehr import Ehr, new_ehr
from ..domain.ehr_status import subject_of
from ..domain.versioning import Audit, VersionUid
from .archetyped import check_ehr_status
from .compositions import Committed, event_audit
from .erasure import erased_message
from .errors import BadRequest, Conflict, EhrNotFound, PreconditionFailed

__all__ = ["create_ehr", "find_ehr", "get_ehr", "update_ehr_status"]


async def create_ehr(
    uow: UnitOfWork,
    *,
    system_id: str,
    status: dict[str, Any],
    audit: Audit,
    templates: TemplateCache,
    ehr_id: UUID | None = None,
) -> Ehr:
    """Create an EHR with its EHR_STATUS version 1, and journal ``hygie.ehr.ehr.created.v1``
    in the same transaction. ``SubjectHasEhr`` when the subject (or the id) has one,
    ``Conflict`` when the id is the id of an erased EHR (ids are never reused),
    ``Unprocessable`` when the EHR_STATUS names a template it does not conform to."""
    await check_ehr_status(uow, status, templates)
    if ehr_id is not None and await ErasureStore(uow.connection).tombstone(ehr_id):
        raise Conflict(f"EHR id {ehr_id} belonged to an erased EHR; ids are not reused")
    subject = subject_of(status)
    ehr = new_ehr(
        system_id=system_id,
        subject=subject,
        ehr_id=ehr_id,
        is_queryable=status["is_queryable"],
        is_modifiable=status["is_modifiable"],
        now=audit.time_committed,
    )
    await EhrRepository(uow.connection).add(ehr, created_by=audit.committer_name)
    store = VersionStore(uow.connection)
    contribution_id = uuid4()
    await store.add_contribution(contribution_id=contribution_id, ehr_id=ehr.ehr_id, audit=audit)
    status = {
        **status,
        "uid": {
            "_type": "OBJECT_VERSION_ID",
            "value": str(VersionUid(ehr.ehr_status_id, system_id, 1)),
        },
    }
    await store.create(
        vo_id=ehr.ehr_status_id,
        ehr_id=ehr.ehr_id,
        kind="EHR_STATUS",
        contribution_id=contribution_id,
        audit=audit,
        lifecycle_state="complete",
        data=status,
    )
    uow.record(ehr.created_event(audit.committer_name))
    return ehr


async def get_ehr(uow: UnitOfWork, ehr_id: UUID) -> Ehr:
    """The EHR; ``EhrNotFound`` (saying so when it was erased) otherwise."""
    ehr = await EhrRepository(uow.connection).get(ehr_id)
    if ehr is None:
        tombstone = await ErasureStore(uow.connection).tombstone(ehr_id)
        raise EhrNotFound(erased_message(tombstone) if tombstone else f"no EHR with id {ehr_id}")
    return ehr


async def find_ehr(uow: UnitOfWork, subject: PartyRef) -> Ehr:
    """The EHR of a subject (ITS-REST: GET /ehr?subject_id=&subject_namespace=)."""
    ehr = await EhrRepository(uow.connection).find_by_subject(subject)
    if ehr is None:
        raise EhrNotFound(f"no EHR for subject {subject.namespace}/{subject.id}")
    return ehr


async def update_ehr_status(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    if_match: VersionUid,
    status: dict[str, Any],
    audit: Audit,
    templates: TemplateCache | None,
    contribution_id: UUID | None = None,
) -> Committed:
    """A new EHR_STATUS version; ``if_match`` must name the latest one. The subject stays
    unique across EHRs (``SubjectHasEhr``). A status naming a template is validated against
    it (``Unprocessable``) — unless ``templates`` is None: the patient-merge consumer, which
    only moves the subject and flags of a status validated when it was committed."""
    repo = EhrRepository(uow.connection)
    ehr = await repo.get(ehr_id)
    if ehr is None:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    store = VersionStore(uow.connection)
    head = await store.head(ehr.ehr_status_id)
    assert head is not None
    system_id = audit.system_id
    latest_uid = str(VersionUid(ehr.ehr_status_id, system_id, head.latest_version))
    if if_match.object_id != ehr.ehr_status_id:
        raise BadRequest(
            f"If-Match {if_match} is not a version of this EHR's EHR_STATUS ({ehr.ehr_status_id})"
        )
    if if_match.version != head.latest_version:
        raise PreconditionFailed(
            f"{if_match} is not the latest version ({latest_uid})", latest_uid=latest_uid
        )
    if templates is not None:
        await check_ehr_status(uow, status, templates)
    subject = subject_of(status)
    await repo.set_status(
        ehr_id,
        subject=subject,
        is_queryable=status["is_queryable"],
        is_modifiable=status["is_modifiable"],
    )
    own = contribution_id is None
    contribution_id = contribution_id or uuid4()
    if own:
        await store.add_contribution(contribution_id=contribution_id, ehr_id=ehr_id, audit=audit)
    version = head.latest_version + 1
    uid = VersionUid(ehr.ehr_status_id, system_id, version)
    status = {**status, "uid": {"_type": "OBJECT_VERSION_ID", "value": str(uid)}}
    try:
        await store.append(
            vo_id=ehr.ehr_status_id,
            expected=head.latest_version,
            ehr_id=ehr_id,
            contribution_id=contribution_id,
            audit=audit,
            lifecycle_state="complete",
            data=status,
        )
    except StaleVersion as exc:
        raise PreconditionFailed(
            f"{if_match} is not the latest version",
            latest_uid=str(VersionUid(ehr.ehr_status_id, system_id, exc.latest)),
        ) from None
    uow.record(
        EhrStatusUpdated(
            ehr_id=ehr_id,
            version_uid=str(uid),
            preceding_version_uid=str(if_match),
            contribution_id=contribution_id,
            subject=subject,
            previous_subject=ehr.subject,
            is_queryable=status["is_queryable"],
            is_modifiable=status["is_modifiable"],
            audit=event_audit(audit),
            ehr_status=status,
        )
    )
    return Committed(uid, contribution_id, status, audit.time_committed)
