"""What every openEHR REST endpoint shares: body reading, ITS-REST headers, error mapping,
and the openEHR error body."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import orjson
from fastapi import Depends, Request, Response

from hygie_platform.http import PROBLEM_BASE, Problem
from hygie_platform.security import Principal, Role, require_roles
from hygie_platform.uow import UnitOfWorkFactory

from ...adapters.versions import StoredVersion
from ...domain.canonical_xml import InvalidXml, canonical_to_xml, xml_to_canonical
from ...domain.ehr_status import InvalidEhrStatus
from ...domain.versioning import (
    Audit,
    BadHeader,
    VersionUid,
    audit_from_header,
    lifecycle_from_header,
)
from ...service.errors import (
    BadRequest,
    Conflict,
    EhrNotFound,
    NotFound,
    PreconditionFailed,
    SubjectHasEhr,
    Unprocessable,
)

Writer = Annotated[Principal, Depends(require_roles(Role.CLINICIAN, Role.INTEGRATION, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.CLINICIAN, Role.INTEGRATION, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.INTEGRATION))]

MAX_BODY = 10 * 1024 * 1024
MAX_DEPTH = 128
JSON = "application/json"
XML = "application/xml"
_XML_TYPES = ("application/xml", "text/xml")


def openehr_error(
    status: int, slug: str, title: str, detail: str, extra: dict[str, Any]
) -> Response:
    """The openEHR ITS-REST error body (``message``, ``validationErrors``), with the
    EHRbase ``error`` field and the platform's stable ``type`` so that both kinds of client
    read it."""
    body: dict[str, Any] = {
        "error": title,
        "message": detail,
        "status": status,
        "type": PROBLEM_BASE + slug,
    }
    issues = extra.pop("issues", None)
    if issues:
        body["validationErrors"] = [f"{path}: {message}" for path, message in issues]
        body["issues"] = [{"path": path, "message": message} for path, message in issues]
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def uow(request: Request) -> UnitOfWorkFactory:
    factory: UnitOfWorkFactory = request.app.state.uow
    return factory


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """Translate use-case errors into HTTP answers."""
    try:
        yield
    except EhrNotFound as exc:
        raise Problem(404, "ehr-not-found", str(exc)) from None
    except NotFound as exc:
        raise Problem(404, "not-found", str(exc)) from None
    except SubjectHasEhr as exc:
        raise Problem(409, "ehr-exists", str(exc)) from None
    except PreconditionFailed as exc:
        raise Problem(
            412, "precondition-failed", str(exc), headers={"ETag": etag(exc.latest_uid)}
        ) from None
    except Unprocessable as exc:
        raise Problem(422, "validation-failed", str(exc), issues=exc.issues) from None
    except Conflict as exc:
        raise Problem(409, "conflict", str(exc)) from None
    except (BadRequest, BadHeader, InvalidEhrStatus) as exc:
        raise Problem(400, "bad-request", str(exc)) from None
    except Exception as exc:
        if _ehr_vanished(exc):
            raise Problem(
                404,
                "ehr-not-found",
                "the EHR no longer exists (it was erased while this request ran); nothing stored",
            ) from None
        raise


def _ehr_vanished(exc: BaseException) -> bool:
    """A write that passed its checks but whose EHR row was deleted (erased) before its
    insert: the foreign key to ``ehr`` refuses it (raised by asyncpg, or wrapped by
    SQLAlchemy)."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, asyncpg.ForeignKeyViolationError):
            return (seen.constraint_name or "").endswith("_ehr_id_fkey")
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


async def read_body(request: Request, *, required: bool = True) -> Any:
    """The JSON body (canonical JSON): size- and depth-limited; 400/413/415 otherwise."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, "body-too-large", f"the body exceeds {MAX_BODY} bytes")
    if not raw.strip():
        if required:
            raise Problem(400, "empty-body", "a body is required")
        return None
    ctype = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if ctype in _XML_TYPES:  # openEHR canonical XML
        try:
            return xml_to_canonical(raw)
        except InvalidXml as exc:
            raise Problem(400, "malformed-xml", str(exc)) from None
    if ctype and "json" not in ctype and ctype not in ("*/*", "text/plain"):
        raise Problem(
            415,
            "unsupported-media-type",
            f"content type {ctype!r} is not supported here (use application/json or "
            "application/xml)",
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "malformed-json", f"the body is not valid JSON: {exc}") from None
    _check_depth(data)
    return data


def _check_depth(data: Any) -> None:
    """400 past ``MAX_DEPTH`` levels, checked level by level (no recursion, no tuple per
    node: this walk runs on every body)."""
    level = [data] if type(data) is dict or type(data) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise Problem(400, "too-deep", f"the body is nested deeper than {MAX_DEPTH} levels")
        below = []
        for node in level:
            for v in node.values() if type(node) is dict else node:
                if type(v) is dict or type(v) is list:
                    below.append(v)
        level = below


def parse_uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise Problem(400, "invalid-id", f"{what} {value!r} is not a UUID") from None


def parse_object_ref(value: str, what: str) -> tuple[UUID, int | None]:
    """A path segment holding either a versioned object id or a version uid."""
    try:
        if "::" in value:
            uid = VersionUid.parse(value)
            return uid.object_id, uid.version
        return UUID(value), None
    except ValueError:
        raise Problem(
            400, "invalid-id", f"{what} {value!r} is neither a UUID nor a version uid"
        ) from None


def parse_version_uid(value: str | None, what: str) -> VersionUid:
    if not value:
        raise Problem(400, "missing-if-match", f"{what} is required")
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    try:
        return VersionUid.parse(text)
    except ValueError as exc:
        raise Problem(400, "invalid-version-uid", f"{what}: {exc}") from None


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Problem(400, "invalid-time", f"{value!r} is not an ISO 8601 date-time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def etag(uid: str) -> str:
    return f'"{uid}"'


def header(request: Request, *names: str) -> str | None:
    for name in names:
        value = request.headers.get(name)
        if value is not None:
            return value
    return None


def audit_of(request: Request, principal: Principal, *, default_change: str) -> Audit:
    """AUDIT_DETAILS from ``openehr-audit-details`` (or ``openEHR-AUDIT_DETAILS``)."""
    value = header(request, "openehr-audit-details", "openehr-audit_details")
    try:
        return audit_from_header(
            value,
            system_id=request.app.state.system_id,
            now=datetime.now(UTC),
            default_change=default_change,
            principal=principal.subject,
        )
    except BadHeader as exc:
        raise Problem(400, "invalid-audit-details", str(exc)) from None


def lifecycle_of(request: Request) -> str:
    value = header(request, "openehr-version")
    try:
        state = lifecycle_from_header(value)
    except BadHeader as exc:
        raise Problem(400, "invalid-version-header", str(exc)) from None
    if state == "deleted":
        raise Problem(
            400,
            "invalid-version-header",
            "lifecycle state 'deleted' is set by DELETE, not by a commit",
        )
    return state


def prefer(request: Request) -> str:
    value = request.headers.get("prefer", "")
    for option in ("representation", "identifier", "minimal"):
        if f"return={option}" in value:
            return option
    return "minimal"


def json_response(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=JSON)


def wants_xml(request: Request) -> bool:
    """Whether the client asks for canonical XML (the first of XML or JSON in Accept)."""
    for part in request.headers.get("accept", "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in _XML_TYPES:
            return True
        if "json" in media:
            return False
    return False


def document_response(
    request: Request,
    data: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RM object in canonical XML when the client accepts it, else canonical JSON."""
    if wants_xml(request):
        try:
            xml = canonical_to_xml(data)
        except ValueError as exc:  # a JSON key that is no XML name
            raise Problem(
                406, "not-representable", f"this object has no canonical XML form: {exc}"
            ) from None
        return Response(xml, status_code=status, headers=headers, media_type=XML)
    return json_response(data, status=status, headers=headers)


def version_headers(uid: str, when: datetime, location: str | None = None) -> dict[str, str]:
    out = {
        "ETag": etag(uid),
        "Last-Modified": when.strftime("%a, %d %b %Y %H:%M:%S GMT")
        if when.tzinfo is None
        else when.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    if location:
        out["Location"] = location
    return out


def original_version(v: StoredVersion, system_id: str) -> dict[str, Any]:
    """ORIGINAL_VERSION canonical JSON of a stored version."""
    uid = VersionUid(v.vo_id, system_id, v.version)
    audit = Audit(
        system_id=system_id,
        time_committed=v.time_committed,
        change_type=v.change_type,
        committer=v.committer,
        description=v.description,
    ).to_rm()
    out: dict[str, Any] = {
        "_type": "ORIGINAL_VERSION",
        "uid": {"_type": "OBJECT_VERSION_ID", "value": str(uid)},
        "contribution": {
            "id": {"_type": "HIER_OBJECT_ID", "value": str(v.contribution_id)},
            "namespace": "local",
            "type": "CONTRIBUTION",
        },
        "commit_audit": audit,
        "lifecycle_state": {
            "_type": "DV_CODED_TEXT",
            "value": v.lifecycle_state,
            "defining_code": {
                "terminology_id": {"value": "openehr"},
                "code_string": _LIFECYCLE[v.lifecycle_state],
            },
        },
    }
    if v.version > 1:
        out["preceding_version_uid"] = {
            "_type": "OBJECT_VERSION_ID",
            "value": str(VersionUid(v.vo_id, system_id, v.version - 1)),
        }
    if v.data is not None:
        out["data"] = v.data
    return out


_LIFECYCLE = {"complete": "532", "incomplete": "553", "deleted": "523"}


def versioned_object(rm_type: str, uid: object, ehr_id: object, time_created: datetime) -> Response:
    """A VERSIONED_COMPOSITION / VERSIONED_EHR_STATUS / VERSIONED_FOLDER of an EHR."""
    return json_response(
        {
            "_type": rm_type,
            "uid": {"_type": "HIER_OBJECT_ID", "value": str(uid)},
            "owner_id": {
                "id": {"_type": "HIER_OBJECT_ID", "value": str(ehr_id)},
                "namespace": "local",
                "type": "EHR",
            },
            "time_created": {"value": time_created.isoformat()},
        }
    )


def revision_history(versions: list[StoredVersion], system_id: str) -> list[dict[str, Any]]:
    return [
        {
            "version_id": {"value": str(VersionUid(v.vo_id, system_id, v.version))},
            "audits": [
                Audit(
                    system_id=system_id,
                    time_committed=v.time_committed,
                    change_type=v.change_type,
                    committer=v.committer,
                    description=v.description,
                ).to_rm()
            ],
        }
        for v in versions
    ]
