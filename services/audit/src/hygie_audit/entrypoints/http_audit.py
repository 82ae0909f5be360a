"""HTTP API under /audit: RFC 9162 proofs, signed tree heads, verification, patient
access report, retention."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from hygie_platform.http import Problem
from hygie_platform.security import Principal

from ..adapters.log_store import tree_size
from ..domain.merkle import ProofError
from ..domain.tree_head import LogKey, SignedTreeHead
from ..service.log import (
    consistency_proof,
    inclusion_proof,
    latest_tree_head,
    root_at,
    sign_tree_head,
)
from ..service.report import access_report, render_html
from ..service.retention import purge_older_than
from ..service.verify import verify_log
from .auth import PRIVACY_OFFICER, is_privacy_officer, require

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])
ANY = Depends(require("clinician", "admin", "analyst", "integration", PRIVACY_OFFICER))
OFFICER = Depends(require("admin", PRIVACY_OFFICER))
ADMIN = Depends(require("admin"))
REPORT = require("admin", "integration", PRIVACY_OFFICER)


def _key(request: Request) -> LogKey:
    key: LogKey = request.app.state.audit_key
    return key


@router.get("/proof/inclusion", dependencies=[ANY])
async def get_inclusion(
    request: Request,
    leaf: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """RFC 9162 §2.1.3 inclusion proof (``tree_size`` defaults to the current size)."""
    async with request.app.state.audit_engine.connect() as conn:
        try:
            return await inclusion_proof(conn, leaf, tree_size)
        except ProofError as exc:
            raise Problem(400, "proof-out-of-range", str(exc)) from None


@router.get("/proof/consistency", dependencies=[ANY])
async def get_consistency(
    request: Request,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    """RFC 9162 §2.1.4 consistency proof between two tree sizes."""
    async with request.app.state.audit_engine.connect() as conn:
        try:
            return await consistency_proof(conn, first, second)
        except ProofError as exc:
            raise Problem(400, "proof-out-of-range", str(exc)) from None


@router.get("/key")
async def get_key(request: Request) -> dict[str, str]:
    """The public key verifying tree heads (DER SubjectPublicKeyInfo, base64)."""
    key = _key(request)
    return {
        "log_id": key.log_id,
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(key.public_der).decode(),
    }


@router.get("/tree-head", dependencies=[ANY])
async def get_tree_head(request: Request) -> dict[str, object]:
    """The latest signed tree head."""
    async with request.app.state.audit_engine.connect() as conn:
        head = await latest_tree_head(conn, _key(request).log_id)
    if head is None:
        raise Problem(404, "no-tree-head", "no tree head was signed yet")
    return head.json()


@router.post("/tree-heads", status_code=201, dependencies=[ADMIN])
async def post_tree_head(request: Request) -> dict[str, object]:
    """Sign a tree head now (also done on a schedule); published on hygie.audit.v1.
    Records are appended by the transactions that receive them: all are in the head."""
    head = await sign_tree_head(request.app.state.uow, _key(request))
    return head.json()


class TreeHeadIn(BaseModel):
    tree_size: int = Field(ge=0)
    root_hash: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    timestamp: int = Field(ge=0)
    signature: str
    log_id: str | None = None


@router.post("/tree-heads/verify", dependencies=[ANY])
async def verify_tree_head(request: Request, body: TreeHeadIn) -> dict[str, object]:
    """Check a tree head someone holds: our signature, and our log's root at its size."""
    key = _key(request)
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(400, "invalid-tree-head", "signature: not base64") from None
    head = SignedTreeHead(
        body.log_id or key.log_id,
        body.tree_size,
        bytes.fromhex(body.root_hash),
        body.timestamp,
        signature,
    )
    if not key.verifies(head):
        raise Problem(
            422, "forged-tree-head", "the signature is not this log's signature", log_id=key.log_id
        )
    async with request.app.state.audit_engine.connect() as conn:
        size = await tree_size(conn)
        if head.tree_size > size:
            raise Problem(
                422,
                "tree-head-beyond-log",
                f"tree head of size {head.tree_size}; the log has {size} leaves",
            )
        root = await root_at(conn, head.tree_size)
    if root != head.root_hash:
        raise Problem(
            422,
            "tree-head-mismatch",
            f"the log's root at size {head.tree_size} differs: it was rewritten",
        )
    return {"valid": True, "tree_size": head.tree_size, "log_id": key.log_id}


@router.post("/verify", dependencies=[OFFICER])
async def post_verify(request: Request) -> dict[str, object]:
    """Recompute the whole log and check every tree head (``hygie audit verify``)."""
    async with request.app.state.audit_engine.connect() as conn:
        report = await verify_log(conn, _key(request))
    return report.json()


@router.post("/retention/purge", dependencies=[ADMIN])
async def post_purge(request: Request) -> dict[str, object]:
    """Run the retention job now."""
    days = request.app.state.audit_options.retention_days
    result = await purge_older_than(request.app.state.uow, days=days)
    return {
        "deleted": result.deleted if result else 0,
        "below_seq": result.below_seq if result else None,
        "retention_days": days,
    }


@router.get("/patients/{patient:path}/access-report", response_model=None)
async def get_access_report(
    request: Request,
    patient: str,
    principal: Annotated[Principal, Depends(REPORT)],
    format: Annotated[str | None, Query(alias="_format")] = None,
) -> dict[str, Any] | HTMLResponse:
    """GDPR art. 15 report; HTML for ``Accept: text/html`` or ``_format=html``."""
    async with request.app.state.audit_engine.connect() as conn:
        report = await access_report(conn, patient, show_staff=is_privacy_officer(principal))
    wants_html = format == "html" or (
        format is None and "text/html" in request.headers.get("accept", "")
    )
    return HTMLResponse(render_html(report)) if wants_html else report
