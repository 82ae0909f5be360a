"""Web templates and the simplified formats (FLAT, STRUCTURED) of openEHR compositions."""

from __future__ import annotations

from typing import Any

from ..domain.opt import OperationalTemplate
from ..domain.validation import validate
from .builder import build_web_template
from .convert import Issues, from_canonical, to_canonical, tree_to_flat
from .ctx import apply_defaults
from .errormap import flat_issues
from .flat import FlatError, from_structured, parse_flat, to_structured
from .model import WebNode, WebTemplate

__all__ = [
    "FlatError",
    "WebNode",
    "WebTemplate",
    "canonical_to_flat",
    "canonical_to_structured",
    "flat_to_canonical",
    "structured_to_canonical",
    "web_template",
]

#: id(parsed OPT) -> (that OPT, its web template); the template cache keeps parsed OPTs
#: alive while they are current, so this stays small
_CACHE: dict[int, tuple[OperationalTemplate, WebTemplate]] = {}
_CACHE_SIZE = 256


def web_template(opt: OperationalTemplate) -> WebTemplate:
    """The web template of a parsed OPT (built once per parsed template)."""
    found = _CACHE.get(id(opt))
    if found is not None and found[0] is opt:
        return found[1]
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    wt = build_web_template(opt)
    _CACHE[id(opt)] = (opt, wt)
    return wt


def _from_tree(
    opt: OperationalTemplate,
    ctx: dict[str, Any],
    tree: dict[str, Any],
    written: dict[int, str] | None = None,
    *,
    check: bool = False,
    unread: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    wt = web_template(opt)
    root = wt.tree
    issues = Issues(written)
    issues.extend(unread or [])
    for key in tree:
        if key != root.id:
            issues.append(
                (key, f"unknown root {key!r}: template {opt.template_id!r} has {root.id!r}")
            )
    instances = tree.get(root.id) or [{}]
    if len(instances) > 1:
        issues.append((f"{root.id}:1", "a composition has one root"))
    data = to_canonical(root, instances[0], issues, root.id)
    data.setdefault("archetype_details", {})["template_id"] = {
        "_type": "TEMPLATE_ID",
        "value": opt.template_id,
    }
    apply_defaults(data, ctx, opt, issues)
    if issues:
        raise FlatError(issues)
    data = _ordered(data)
    if check:
        problems = validate(data, opt)
        if problems:
            issues.placed[id(data)] = (root.id, root)
            raise FlatError(flat_issues(data, problems, issues.placed, root.id))
    return data


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """``_type``, ``name``, ``archetype_details``... first, as canonical JSON writers do."""
    head = ("_type", "name", "uid", "archetype_details", "archetype_node_id")
    out = {k: data[k] for k in head if k in data}
    out.update({k: v for k, v in data.items() if k not in out})
    return out


def flat_to_canonical(
    opt: OperationalTemplate, flat: Any, *, validated: bool = False
) -> dict[str, Any]:
    """A FLAT composition as canonical JSON; :class:`FlatError` lists every key it cannot
    place and, when ``validated``, every template violation named by the FLAT key that
    placed the offending data."""
    ctx, tree, written, unread = parse_flat(flat)
    return _from_tree(opt, ctx, tree, written, check=validated, unread=unread)


def structured_to_canonical(
    opt: OperationalTemplate, doc: Any, *, validated: bool = False
) -> dict[str, Any]:
    """A STRUCTURED composition as canonical JSON (issues named by FLAT-style keys)."""
    ctx, tree = from_structured(doc)
    return _from_tree(opt, ctx, tree, check=validated)


def _tree(opt: OperationalTemplate, data: dict[str, Any]) -> tuple[WebNode, dict[str, Any]]:
    root = web_template(opt).tree
    return root, from_canonical(root, data)


def canonical_to_flat(opt: OperationalTemplate, data: dict[str, Any]) -> dict[str, Any]:
    root, tree = _tree(opt, data)
    return tree_to_flat(root, tree)


def canonical_to_structured(opt: OperationalTemplate, data: dict[str, Any]) -> dict[str, Any]:
    root, tree = _tree(opt, data)
    return to_structured({root.id: [tree]})
