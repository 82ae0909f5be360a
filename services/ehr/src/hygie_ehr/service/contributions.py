"""CONTRIBUTIONs: several versions committed atomically (all or nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from hygie_contracts.ehr import ContributionCommitted
from hygie_platform.uow import UnitOfWork

from ..adapters.repository import EhrRepository
from ..adapters.templates import TemplateCache
from ..adapters.versions import VersionStore
from ..domain.ehr_status import InvalidEhrStatus, read_status
from ..domain.versioning import LIFECYCLE_STATES, Audit, BadHeader, VersionUid, audit_from_rm
from .compositions import (
    Committed,
    commit_composition,
    delete_composition,
    event_audit,
    update_composition,
)
from .directory import create_directory, delete_directory, update_directory
from .ehr import update_ehr_status
from .errors import BadRequest, EhrNotFound, Unprocessable

__all__ = ["commit_contribution", "read_contribution"]

_LIFECYCLE_BY_CODE = {v: k for k, v in LIFECYCLE_STATES.items()}


def _lifecycle(version: dict[str, Any]) -> str:
    state = version.get("lifecycle_state") or {}
    code = (state.get("defining_code") or {}).get("code_string")
    value = _LIFECYCLE_BY_CODE.get(code or "") or state.get("value") or "complete"
    if value not in LIFECYCLE_STATES:
        raise BadRequest(f"unknown lifecycle state {value!r}")
    return str(value)


def _preceding(version: dict[str, Any], where: str) -> VersionUid:
    value = (version.get("preceding_version_uid") or {}).get("value")
    if not value:
        raise BadRequest(f"{where}: preceding_version_uid is required for this change type")
    try:
        return VersionUid.parse(value)
    except ValueError as exc:
        raise BadRequest(f"{where}/preceding_version_uid: {exc}") from None


async def commit_contribution(
    uow: UnitOfWork,
    *,
    ehr_id: UUID,
    body: Any,
    principal: str,
    system_id: str,
    now: datetime,
    cache: TemplateCache,
) -> tuple[UUID, list[Committed]]:
    """Commit every version of a CONTRIBUTION in the caller's transaction: an error in any
    of them leaves nothing stored."""
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("versions"), list)
        or not body["versions"]
    ):
        raise BadRequest("a CONTRIBUTION needs a non-empty 'versions' list")
    if await EhrRepository(uow.connection).get(ehr_id) is None:
        raise EhrNotFound(f"no EHR with id {ehr_id}")
    try:
        audit = audit_from_rm(
            body.get("audit"),
            system_id=system_id,
            now=now,
            default_change="creation",
            principal=principal,
        )
    except BadHeader as exc:
        raise BadRequest(f"/audit: {exc}") from None
    contribution_id = uuid4()
    await VersionStore(uow.connection).add_contribution(
        contribution_id=contribution_id, ehr_id=ehr_id, audit=audit
    )
    done = []
    for i, version in enumerate(body["versions"]):
        where = f"/versions[{i}]"
        if not isinstance(version, dict) or not isinstance(version.get("data"), dict):
            raise BadRequest(f"{where}: an ORIGINAL_VERSION with 'data' is expected")
        try:
            v_audit = audit_from_rm(
                version.get("commit_audit"),
                system_id=system_id,
                now=now,
                default_change="creation",
                principal=principal,
            )
        except BadHeader as exc:
            raise BadRequest(f"{where}/commit_audit: {exc}") from None
        try:
            done.append(await _one(uow, ehr_id, version, v_audit, contribution_id, cache, where))
        except Unprocessable as exc:
            raise Unprocessable(
                f"{where}: {exc}", [(f"{where}/data{p}", m) for p, m in exc.issues]
            ) from None
    uow.record(
        ContributionCommitted(
            ehr_id=ehr_id,
            contribution_id=contribution_id,
            version_uids=[str(c.uid) for c in done],
            audit=event_audit(audit),
        )
    )
    return contribution_id, done


async def _one(
    uow: UnitOfWork,
    ehr_id: UUID,
    version: dict[str, Any],
    audit: Audit,
    contribution_id: UUID,
    cache: TemplateCache,
    where: str,
) -> Committed:
    data = version["data"]
    rm_type = data.get("_type", "COMPOSITION")
    change = audit.change_type
    lifecycle = _lifecycle(version)
    if rm_type == "COMPOSITION":
        if change == "creation":
            return await commit_composition(
                uow,
                ehr_id=ehr_id,
                data=data,
                audit=audit,
                lifecycle_state=lifecycle,
                cache=cache,
                contribution_id=contribution_id,
            )
        preceding = _preceding(version, where)
        if change == "deleted" or lifecycle == "deleted":
            return await delete_composition(
                uow,
                ehr_id=ehr_id,
                version_uid=preceding,
                audit=audit,
                contribution_id=contribution_id,
            )
        return await update_composition(
            uow,
            ehr_id=ehr_id,
            vo_id=preceding.object_id,
            if_match=preceding,
            data=data,
            audit=audit,
            lifecycle_state=lifecycle,
            cache=cache,
            contribution_id=contribution_id,
        )
    if rm_type == "EHR_STATUS":
        if change not in ("modification", "amendment"):
            raise BadRequest(f"{where}: an EHR_STATUS can only be modified ({change} given)")
        try:
            status = read_status(data)
        except InvalidEhrStatus as exc:
            raise BadRequest(f"{where}/data: {exc}") from None
        return await update_ehr_status(
            uow,
            ehr_id=ehr_id,
            if_match=_preceding(version, where),
            status=status,
            audit=audit,
            templates=cache,
            contribution_id=contribution_id,
        )
    if rm_type == "FOLDER":
        if change == "creation":
            return await create_directory(
                uow,
                ehr_id=ehr_id,
                data=data,
                audit=audit,
                templates=cache,
                contribution_id=contribution_id,
            )
        preceding = _preceding(version, where)
        if change == "deleted" or lifecycle == "deleted":
            return await delete_directory(
                uow,
                ehr_id=ehr_id,
                if_match=preceding,
                audit=audit,
                contribution_id=contribution_id,
            )
        return await update_directory(
            uow,
            ehr_id=ehr_id,
            if_match=preceding,
            data=data,
            audit=audit,
            templates=cache,
            contribution_id=contribution_id,
        )
    raise BadRequest(f"{where}/data/_type: {rm_type!r} cannot be committed in a contribution")


async def read_contribution(
    uow: UnitOfWork, *, ehr_id: UUID, contribution_id: UUID, system_id: str
) -> dict[str, Any]:
    """The CONTRIBUTION: its audit and references to its versions."""
    found = await VersionStore(uow.connection).contribution(contribution_id)
    if found is None or found[0].ehr_id != ehr_id:
        raise EhrNotFound(f"no contribution {contribution_id} in EHR {ehr_id}")
    row, versions = found
    audit = Audit(
        system_id=row.system_id,
        time_committed=row.time_committed,
        change_type=row.change_type,
        committer=row.committer,
        description=row.description,
    )
    return {
        "_type": "CONTRIBUTION",
        "uid": {"_type": "HIER_OBJECT_ID", "value": str(contribution_id)},
        "versions": [
            {
                "id": {
                    "_type": "OBJECT_VERSION_ID",
                    "value": str(VersionUid(v.vo_id, system_id, v.version)),
                },
                "namespace": "local",
                "type": "VERSION",
            }
            for v in versions
        ],
        "audit": audit.to_rm(),
    }
