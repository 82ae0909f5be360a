"""Use cases on ADL 1.4 operational templates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hygie_contracts.ehr import TemplateUploaded
from hygie_platform.uow import UnitOfWork

from ..adapters.templates import StoredTemplate, TemplateCache, TemplateStore
from ..domain.opt import InvalidTemplate, OperationalTemplate, parse_opt
from .errors import NotFound, TemplateConflict, TemplateInvalid

__all__ = ["get_template", "list_templates", "upload_template"]


async def upload_template(
    uow: UnitOfWork,
    *,
    body: bytes,
    cache: TemplateCache,
    uploaded_by: str | None,
    allow_overwrite: bool = False,
) -> tuple[OperationalTemplate, bool]:
    """Store an OPT; returns it and whether it was new. Re-uploading the same document is
    idempotent; a different one with the same id is a conflict unless overwrite is allowed
    and no composition uses it."""
    try:
        opt = parse_opt(body)
    except InvalidTemplate as exc:
        raise TemplateInvalid(str(exc)) from None
    sha = hashlib.sha256(body).hexdigest()
    store = TemplateStore(uow.connection)
    values = {
        "template_id": opt.template_id,
        "uid": opt.uid,
        "concept": opt.concept,
        "archetype_id": opt.root_archetype_id,
        "sha256": sha,
        "opt": body.decode("utf-8", errors="replace"),
        "created_at": datetime.now(UTC),
        "created_by": uploaded_by,
    }
    if await store.put(values, overwrite=False):
        created = True
    else:
        existing = await store.get(opt.template_id, with_opt=False)
        assert existing is not None
        if existing.sha256 == sha:
            return opt, False
        if not allow_overwrite:
            raise TemplateConflict(f"a different template with id {opt.template_id!r} exists")
        if await store.in_use(opt.template_id):
            raise TemplateConflict(
                f"template {opt.template_id!r} is used by compositions and cannot be replaced"
            )
        await store.put(values, overwrite=True)
        created = True
    cache.remember(sha, opt)
    uow.record(
        TemplateUploaded(
            template_id=opt.template_id,
            concept=opt.concept,
            archetype_id=opt.root_archetype_id,
            sha256=sha,
            uploaded_by=uploaded_by,
        )
    )
    return opt, created


async def list_templates(uow: UnitOfWork) -> list[StoredTemplate]:
    return await TemplateStore(uow.connection).list()


async def get_template(uow: UnitOfWork, template_id: str) -> StoredTemplate:
    stored = await TemplateStore(uow.connection).get(template_id)
    if stored is None:
        raise NotFound(f"no template with id {template_id!r}")
    return stored
