"""Validation of EHR_STATUS and FOLDER versions against the template they name
(``archetype_details.template_id``), the way compositions are validated: every issue at
once, each with its path, as ``Unprocessable`` (422). An object naming no template is
checked structurally only (openEHR does not require one for EHR_STATUS or FOLDER)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hygie_platform.uow import UnitOfWork

from ..adapters.templates import TemplateCache
from ..domain.validation import validate
from .compositions import template_id_of
from .errors import Unprocessable

__all__ = ["check_ehr_status", "check_folder"]


async def _issues(
    uow: UnitOfWork, data: dict[str, Any], cache: TemplateCache, path: str
) -> list[tuple[str, str]]:
    """Issues of one archetyped object against the template it names (none if it names none)."""
    template_id = template_id_of(data)
    if template_id is None:
        return []
    where = f"{path.rstrip('/')}/archetype_details/template_id"
    opt = await cache.get(uow.connection, template_id)
    if opt is None:
        return [(where, f"unknown template {template_id}: upload it first")]
    rm_type = data.get("_type")
    if opt.definition.rm_type != rm_type:
        return [(where, f"template {template_id} is for {opt.definition.rm_type}, not {rm_type}")]
    found: list[tuple[str, str]] = []
    root = opt.root_archetype_id
    if data.get("archetype_node_id") != root:
        found.append(
            (
                f"{path.rstrip('/')}/archetype_node_id",
                f"expected {root} (the root archetype of template {template_id}), "
                f"got {data.get('archetype_node_id')}",
            )
        )
    found.extend((_under(path, i.path), i.message) for i in validate(data, opt))
    return found


def _under(prefix: str, path: str) -> str:
    return path if prefix == "/" else prefix.rstrip("/") + (path if path != "/" else "")


async def check_ehr_status(uow: UnitOfWork, status: dict[str, Any], cache: TemplateCache) -> None:
    """An EHR_STATUS naming a template must conform to it (``Unprocessable`` otherwise)."""
    issues = await _issues(uow, status, cache, "/")
    if issues:
        raise Unprocessable(
            f"the EHR_STATUS does not conform to template {template_id_of(status)!r}", issues
        )


def _folders(folder: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, folder
    for i, sub in enumerate(folder.get("folders") or []):
        if isinstance(sub, dict):
            yield from _folders(sub, f"{path.rstrip('/')}/folders[{i}]")


async def check_folder(uow: UnitOfWork, folder: dict[str, Any], cache: TemplateCache) -> None:
    """Every FOLDER of a directory tree that names a template must conform to it (its
    ``details`` and whatever else the template constrains); all issues of the tree at once."""
    issues: list[tuple[str, str]] = []
    for path, node in _folders(folder, "/"):
        issues.extend(await _issues(uow, node, cache, path))
    if issues:
        raise Unprocessable("the directory does not conform to the templates it names", issues)
