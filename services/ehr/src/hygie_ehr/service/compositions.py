"""Use cases on versioned COMPOSITIONs; each runs inside the caller's unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from hygie_contracts import PartyRef
from hygie_contracts.ehr import AuditDetails, CompositionCommitted, CompositionDeleted
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import EhrRepository
from ..adapters.templates import TemplateCache
from ..adapters.versions import ObjectExists, StaleVersion, StoredVersion, VersionStore
from ..domain.ehr import Ehr
from ..domain.entries import archetyped_nodes
from ..domain.opt import OperationalTemplate
from ..domain.rm import UnknownRmType, check_known_types
from ..domain.validation import validate
from ..domain.versioning import Audit, VersionUid
from .errors import BadRequest, Conflict, EhrNotFound, NotFound, PreconditionFailed, Unprocessable

__all__ = [
    "Committed",
    "commit_composition",
    "delete_composition",
    "read_composition",
    "update_composition",
]


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit produced."""

    uid: VersionUid
    contribution_id: UUID
    data: dict[str, Any] | None
    time_committed: datetime


def event_audit(audit: Audit) -> AuditDetails:
    return AuditDetails(
        system_id=audit.system_id,
        time_committed=audit.time_committed,
        change_type=audit.change_type,
        committer=audit.committer_name,
        description=audit.description,
    )


async def writable_ehr(uow: UnitOfWork, ehr_id: UUID) -> Ehr:
    return _writable(await EhrRepository(uow.connection).get(ehr_id), ehr_id)


def _writable(ehr: Ehr | None, ehr_id: UUID) -> Ehr:
    if ehr is None:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    if not ehr.is_modifiable:
        raise Conflict(f"EHR {ehr_id} is not modifiable (EHR_STATUS.is_modifiable is false)")
    return ehr


def template_id_of(data: Any) -> str | None:
    """``archetype_details.template_id.value`` of a composition body, if it has one."""
    details = data.get("archetype_details") if isinstance(data, dict) else None
    tid = details.get("template_id") if isinstance(details, dict) else None
    value = tid.get("value") if isinstance(tid, dict) else None
    return value if isinstance(value, str) and value else None


def _template_of(data: Any) -> str:
    """The template id of a COMPOSITION body (400/422 for what is no composition)."""
    if not isinstance(data, dict):
        raise BadRequest("the body must be a COMPOSITION object")
    try:
        check_known_types(data)
    except UnknownRmType as exc:
        raise BadRequest(str(exc)) from None
    rm_type = data.get("_type", "COMPOSITION")
    if rm_type != "COMPOSITION":
        raise BadRequest(f"expected a COMPOSITION, got {rm_type}")
    template_id = template_id_of(data)
    if template_id is None:
        raise Unprocessable(
            "archetype_details/template_id/value is missing",
            [("/archetype_details/template_id", "the template id is mandatory")],
        )
    return template_id


def _conform(data: dict[str, Any], opt: OperationalTemplate, template_id: str) -> None:
    issues = validate(data, opt)
    if issues:
        raise Unprocessable(
            f"the composition does not conform to template {template_id!r}",
            [(i.path, i.message) for i in issues],
        )


async def checked(
    uow: UnitOfWork, data: Any, cache: TemplateCache, *, sha256: str | None = None
) -> tuple[str, str]:
    """Validate a composition against its template; (template id, archetype id).
    ``sha256``: the template's stored hash when already read."""
    template_id = _template_of(data)
    opt = await cache.get(uow.connection, template_id, sha256=sha256)
    if opt is None:
        raise Unprocessable(
            f"unknown template {template_id!r}: upload it first",
            [("/archetype_details/template_id", f"unknown template {template_id}")],
        )
    _conform(data, opt, template_id)
    return template_id, opt.root_archetype_id


def _subject(ehr: Ehr) -> PartyRef | None:
    return ehr.subject


async def _store(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    subject: PartyRef | None,
    vo_id: UUID,
    data: dict[str, Any],
    template_id: str,
    archetype_id: str,
    audit: Audit,
    lifecycle_state: str,
    expected: int | None,
    contribution_id: UUID | None,
    template_sha256: str | None = None,
) -> Committed | None:
    """Write a version and journal its event. A creation is written only if the EHR is
    there, modifiable, and the template has ``template_sha256`` (None otherwise: nothing
    written, the caller checks the slow way)."""
    store = VersionStore(uow.connection)
    own_contribution = contribution_id is None
    contribution_id = contribution_id or uuid4()
    version = 1 if expected is None else expected + 1
    uid = VersionUid(vo_id, audit.system_id, version)
    data["uid"] = {"_type": "OBJECT_VERSION_ID", "value": str(uid)}
    common = {
        "ehr_id": ehr_id,
        "contribution_id": contribution_id,
        "audit": audit,
        "lifecycle_state": lifecycle_state,
        "data": data,
        "template_id": template_id,
    }
    if expected is None:
        assert template_sha256 is not None
        try:
            written, subject = await store.create_composition(
                vo_id=vo_id,
                own_contribution=own_contribution,
                template_sha256=template_sha256,
                nodes=archetyped_nodes(data),
                **common,
            )
        except ObjectExists:
            raise Conflict(f"a versioned object with id {vo_id} already exists") from None
        if not written:
            return None
    else:
        if own_contribution:
            await store.add_contribution(
                contribution_id=contribution_id, ehr_id=ehr_id, audit=audit
            )
        await store.append(vo_id=vo_id, expected=expected, **common)
        await store.add_entries(
            vo_id=vo_id,
            version=version,
            ehr_id=ehr_id,
            template_id=template_id,
            nodes=archetyped_nodes(data),
        )
    preceding = str(VersionUid(vo_id, audit.system_id, expected)) if expected else None
    uow.record(
        CompositionCommitted(
            ehr_id=ehr_id,
            version_uid=str(uid),
            preceding_version_uid=preceding,
            contribution_id=contribution_id,
            template_id=template_id,
            archetype_id=archetype_id,
            subject=subject,
            lifecycle_state=lifecycle_state,
            audit=event_audit(audit),
            composition=data,
        )
    )
    return Committed(uid, contribution_id, data, audit.time_committed)


async def commit_composition(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    data: Any,
    audit: Audit,
    lifecycle_state: str,
    cache: TemplateCache,
    contribution_id: UUID | None = None,
) -> Committed:
    """Create a composition (version 1) after validating it against its template.

    With the template parsed before, the composition is validated first and written by
    one statement that checks the EHR and the template's hash itself (no read first);
    when that statement finds them otherwise, or the body is invalid, the EHR is read and
    checked first (404 and 409 before 422), as without a cached template."""
    if audit.change_type == "modification":
        audit = audit.with_change("creation")
    wanted = template_id_of(data)
    known = cache.cached(wanted) if wanted is not None else None
    if known is not None:
        known_sha, opt = known
        try:
            _template_of(data)
            _conform(data, opt, opt.template_id)
            vo_id = _requested_id(data) or uuid4()
        except (BadRequest, Unprocessable):
            pass  # reported below, after the EHR's checks
        else:
            done = await _store(
                uow,
                ehr_id=ehr_id,
                subject=None,
                vo_id=vo_id,
                data=data,
                template_id=opt.template_id,
                archetype_id=opt.root_archetype_id,
                audit=audit,
                lifecycle_state=lifecycle_state,
                expected=None,
                contribution_id=contribution_id,
                template_sha256=known_sha,
            )
            if done is not None:
                return done
    if wanted is None:
        ehr = await writable_ehr(uow, ehr_id)
        sha = None
    else:  # the EHR and the template's hash in one round trip
        found, sha = await EhrRepository(uow.connection).get_with_template(ehr_id, wanted)
        ehr = _writable(found, ehr_id)
    template_id, archetype_id = await checked(uow, data, cache, sha256=sha)
    assert sha is not None  # checked() refuses a composition without a known template
    vo_id = _requested_id(data) or uuid4()
    done = await _store(
        uow,
        ehr_id=ehr.ehr_id,
        subject=None,
        vo_id=vo_id,
        data=data,
        template_id=template_id,
        archetype_id=archetype_id,
        audit=audit,
        lifecycle_state=lifecycle_state,
        expected=None,
        contribution_id=contribution_id,
        template_sha256=sha,
    )
    if done is None:  # the template was replaced between the read and the write
        raise Conflict(f"template {template_id!r} was replaced during the commit: retry")
    return done


def _requested_id(data: dict[str, Any]) -> UUID | None:
    """A client-chosen object id (``uid`` given on create), as EHRbase accepts it."""
    value = (data.get("uid") or {}).get("value") if isinstance(data.get("uid"), dict) else None
    if not isinstance(value, str):
        return None
    try:
        return VersionUid.parse(value).object_id if "::" in value else UUID(value)
    except ValueError:
        raise BadRequest(f"uid {value!r} is neither a UUID nor a version uid") from None


async def _latest(store: VersionStore, ehr_id: UUID, vo_id: UUID, kind: str) -> int:
    head = await store.head(vo_id)
    if head is None or head.ehr_id != ehr_id or head.kind != kind:
        raise NotFound(f"no {kind} with id {vo_id} in EHR {ehr_id}")
    return head.latest_version


def _precondition(if_match: VersionUid, vo_id: UUID, latest: int, system_id: str) -> None:
    if if_match.object_id != vo_id:
        raise BadRequest(f"If-Match {if_match} is a version of another object than {vo_id}")
    if if_match.version != latest:
        latest_uid = str(VersionUid(vo_id, system_id, latest))
        raise PreconditionFailed(
            f"{if_match} is not the latest version ({latest_uid})", latest_uid=latest_uid
        )


async def update_composition(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    vo_id: UUID,
    if_match: VersionUid,
    data: Any,
    audit: Audit,
    lifecycle_state: str,
    cache: TemplateCache,
    contribution_id: UUID | None = None,
) -> Committed:
    """A new version of a composition; ``if_match`` must name its latest version."""
    ehr = await writable_ehr(uow, ehr_id)
    store = VersionStore(uow.connection)
    latest = await _latest(store, ehr_id, vo_id, "COMPOSITION")
    _precondition(if_match, vo_id, latest, audit.system_id)
    head = await store.head(vo_id)
    assert head is not None
    if head.deleted:
        raise Conflict(f"composition {vo_id} is deleted")
    template_id, archetype_id = await checked(uow, data, cache)
    if template_id != head.template_id:
        raise Unprocessable(
            f"the composition uses template {head.template_id!r}, not {template_id!r}",
            [("/archetype_details/template_id", "the template cannot change")],
        )
    if audit.change_type == "creation":
        audit = audit.with_change("modification")
    try:
        done = await _store(
            uow,
            ehr_id=ehr.ehr_id,
            subject=ehr.subject,
            vo_id=vo_id,
            data=data,
            template_id=template_id,
            archetype_id=archetype_id,
            audit=audit,
            lifecycle_state=lifecycle_state,
            expected=latest,
            contribution_id=contribution_id,
        )
        assert done is not None  # only a creation can find its EHR or template otherwise
        return done
    except StaleVersion as exc:  # a concurrent writer won the race
        latest_uid = str(VersionUid(vo_id, audit.system_id, exc.latest))
        raise PreconditionFailed(
            f"{if_match} is not the latest version ({latest_uid})", latest_uid=latest_uid
        ) from None


async def delete_composition(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    version_uid: VersionUid,
    audit: Audit,
    contribution_id: UUID | None = None,
) -> Committed:
    """Logical deletion: a tombstone version (change type *deleted*); history stays."""
    ehr = await writable_ehr(uow, ehr_id)
    store = VersionStore(uow.connection)
    vo_id = version_uid.object_id
    latest = await _latest(store, ehr_id, vo_id, "COMPOSITION")
    head = await store.head(vo_id)
    assert head is not None
    if head.deleted:
        raise Conflict(f"composition {vo_id} is already deleted")
    _precondition(version_uid, vo_id, latest, audit.system_id)
    audit = audit.with_change("deleted")
    own = contribution_id is None
    contribution_id = contribution_id or uuid4()
    if own:
        await store.add_contribution(contribution_id=contribution_id, ehr_id=ehr_id, audit=audit)
    try:
        version = await store.append(
            vo_id=vo_id,
            expected=latest,
            ehr_id=ehr_id,
            contribution_id=contribution_id,
            audit=audit,
            lifecycle_state="deleted",
            data=None,
            template_id=head.template_id,
        )
    except StaleVersion as exc:
        latest_uid = str(VersionUid(vo_id, audit.system_id, exc.latest))
        raise PreconditionFailed(
            f"{version_uid} is not the latest version", latest_uid=latest_uid
        ) from None
    uid = VersionUid(vo_id, audit.system_id, version)
    uow.record(
        CompositionDeleted(
            ehr_id=ehr_id,
            version_uid=str(uid),
            preceding_version_uid=str(version_uid),
            contribution_id=contribution_id,
            template_id=head.template_id,
            subject=_subject(ehr),
            audit=event_audit(audit),
        )
    )
    return Committed(uid, contribution_id, None, audit.time_committed)


async def read_version(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    vo_id: UUID,
    kind: str,
    version: int | None = None,
    at: datetime | None = None,
) -> StoredVersion:
    """A version of a versioned object of an EHR: a given one, the one current at a time,
    or the latest."""
    found, _ = await read_version_of_patient(
        uow, ehr_id=ehr_id, vo_id=vo_id, kind=kind, version=version, at=at
    )
    return found


async def read_version_of_patient(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    vo_id: UUID,
    kind: str,
    version: int | None = None,
    at: datetime | None = None,
) -> tuple[StoredVersion, str]:
    """:func:`read_version` and the EHR's patient (``namespace|id``, or ``EHR/<id>`` for an
    EHR without subject: the form of access events), read in one round trip."""
    read = await VersionStore(uow.connection).read(
        ehr_id=ehr_id, vo_id=vo_id, kind=kind, version=version, at=at
    )
    if not read.ehr_found:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    if not read.object_found:
        raise NotFound(f"no {kind} with id {vo_id} in EHR {ehr_id}")
    if read.version is None:
        if at is not None:
            raise NotFound(f"{kind} {vo_id} did not exist at {at.isoformat()}")
        raise NotFound(f"{kind} {vo_id} has no version {version}")
    patient = (
        f"{read.subject_namespace}|{read.subject_id}"
        if read.subject_id is not None
        else f"EHR/{ehr_id}"
    )
    return read.version, patient


async def read_composition(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    vo_id: UUID,
    version: int | None = None,
    at: datetime | None = None,
) -> tuple[StoredVersion, str]:
    """A composition version and its patient (for the access event of the read)."""
    return await read_version_of_patient(
        uow, ehr_id=ehr_id, vo_id=vo_id, kind="COMPOSITION", version=version, at=at
    )
