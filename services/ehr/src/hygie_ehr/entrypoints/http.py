"""openEHR REST (ITS-REST 1.0.3) EHR endpoints — walking skeleton: create and read."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from hygie_contracts import PartyRef
from hygie_platform.http import Problem
from hygie_platform.security import Principal, Role, require_roles
from hygie_platform.uow import UnitOfWorkFactory
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..domain.ehr import Ehr
from ..service.ehr import create_ehr, get_ehr
from ..service.errors import EhrNotFound, SubjectHasEhr

__all__ = ["router"]

router = APIRouter(prefix="/openehr/v1", tags=["EHR"])
Writer = Annotated[Principal, Depends(require_roles(Role.CLINICIAN, Role.INTEGRATION, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.CLINICIAN, Role.INTEGRATION, Role.ADMIN))]


class _Value(BaseModel):
    value: str


class _ExternalRef(BaseModel):
    id: _Value
    namespace: str = Field(min_length=1)
    type: str = "PERSON"


class _Subject(BaseModel):
    external_ref: _ExternalRef | None = None


class EhrStatusIn(BaseModel):
    """The optional EHR_STATUS body of ``POST /ehr`` (canonical JSON)."""

    model_config = ConfigDict(populate_by_name=True)

    type_: str = Field(default="EHR_STATUS", alias="_type")
    subject: _Subject | None = None
    is_queryable: bool = True
    is_modifiable: bool = True


def _uow(request: Request) -> UnitOfWorkFactory:
    factory: UnitOfWorkFactory = request.app.state.uow
    return factory


def _representation(ehr: Ehr) -> dict[str, Any]:
    status_uid = f"{ehr.ehr_status_id}::{ehr.system_id}::1"
    ehr_status: dict[str, Any] = {
        "_type": "EHR_STATUS",
        "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
        "name": {"value": "EHR Status"},
        "uid": {"_type": "OBJECT_VERSION_ID", "value": status_uid},
        "subject": {"_type": "PARTY_SELF"},
        "is_queryable": ehr.is_queryable,
        "is_modifiable": ehr.is_modifiable,
    }
    if ehr.subject:
        ehr_status["subject"]["external_ref"] = {
            "id": {"_type": "GENERIC_ID", "value": ehr.subject.id, "scheme": "id_scheme"},
            "namespace": ehr.subject.namespace, "type": "PERSON",
        }
    return {
        "system_id": {"value": ehr.system_id},
        "ehr_id": {"value": str(ehr.ehr_id)},
        "ehr_status": ehr_status,
        "time_created": {"value": ehr.time_created.isoformat()},
    }


def _not_found(exc: EhrNotFound) -> Problem:
    return Problem(404, "ehr-not-found", str(exc))


@router.post("/ehr", status_code=201)
async def post_ehr(request: Request, principal: Writer,
                   prefer: Annotated[str | None, Header()] = None) -> Response:
    """Create an EHR (ITS-REST: POST /ehr); 409 when the subject already has one."""
    raw = await request.body()
    status = EhrStatusIn()
    if raw.strip():
        try:
            status = EhrStatusIn.model_validate_json(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = "/".join(str(p) for p in err["loc"]) or "(body)"
            raise Problem(400, "invalid-ehr-status", f"EHR_STATUS {where}: {err['msg']}") from None
        if status.type_ != "EHR_STATUS":
            raise Problem(400, "invalid-ehr-status", f"_type must be EHR_STATUS, got {status.type_}")
    subject = None
    if status.subject and status.subject.external_ref:
        ref = status.subject.external_ref
        subject = PartyRef(namespace=ref.namespace, id=ref.id.value)
    system_id: str = request.app.state.system_id
    try:
        async with _uow(request)() as uow:
            ehr = await create_ehr(uow, system_id=system_id, subject=subject,
                                   committer=principal.subject, is_queryable=status.is_queryable,
                                   is_modifiable=status.is_modifiable)
    except SubjectHasEhr as exc:
        raise Problem(409, "ehr-exists", str(exc)) from None
    headers = {"Location": f"{request.url_for('get_ehr_by_id', ehr_id=str(ehr.ehr_id))}",
               "ETag": f'"{ehr.ehr_id}"'}
    if prefer and "return=representation" in prefer:
        return Response(orjson.dumps(_representation(ehr)), status_code=201, headers=headers,
                        media_type="application/json")
    return Response(status_code=201, headers=headers)


@router.get("/ehr/{ehr_id}", name="get_ehr_by_id")
async def get_ehr_by_id(ehr_id: str, request: Request, principal: Reader) -> Response:
    """Read an EHR (ITS-REST: GET /ehr/{ehr_id})."""
    try:
        uid = UUID(ehr_id)
    except ValueError:
        raise Problem(400, "invalid-ehr-id", f"ehr_id {ehr_id!r} is not a UUID") from None
    try:
        async with _uow(request)() as uow:
            ehr = await get_ehr(uow, uid)
    except EhrNotFound as exc:
        raise _not_found(exc) from None
    return Response(orjson.dumps(_representation(ehr)), media_type="application/json",
                    headers={"ETag": f'"{ehr.ehr_id}"'})
