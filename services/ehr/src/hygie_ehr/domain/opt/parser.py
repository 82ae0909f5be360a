"""ADL 1.4 operational template (OPT XML) → :class:`OperationalTemplate`.

The document is checked against the structure of ``Template.xsd`` (OPERATIONAL_TEMPLATE)
before its definition is read: unknown top-level elements, repeated singletons and a
missing language, template id, concept or definition are refused with a clear reason
(the EHRbase suite's ``invalid_templates/`` cases).
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ..datatypes import duration_seconds
from .model import CAttribute, CObject, Interval, OperationalTemplate, Primitive, QuantityItem

__all__ = ["InvalidTemplate", "parse_opt"]

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_BYTES = 20 * 1024 * 1024

_TOP_LEVEL = {
    "language",
    "is_controlled",
    "description",
    "revision_history",
    "uid",
    "template_id",
    "concept",
    "definition",
    "ontology",
    "annotations",
    "component_terminologies",
    "terminology_extracts",
    "view",
    "constraints",
    "original_language",
    "translations",
    "component_ontologies",
}
_REPEATABLE = {
    "annotations",
    "component_terminologies",
    "component_ontologies",
    "terminology_extracts",
    "translations",
}
_REQUIRED = ("language", "template_id", "concept", "definition")

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True
)
#: Only for documents whose sole fault is a malformed namespace URI (seen in the wild:
#: ``xmlns:xsi="http //www.w3.org/..."``); structure is still checked below.
_LENIENT = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    recover=True,
)


class InvalidTemplate(ValueError):
    """The document is not a valid ADL 1.4 operational template."""


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in el:
        if _local(child) == name:
            yield child


def _kid(el: etree._Element, name: str) -> etree._Element | None:
    return next(_kids(el, name), None)


def _text(el: etree._Element | None, name: str | None = None) -> str | None:
    if el is not None and name is not None:
        el = _kid(el, name)
    if el is None or el.text is None:
        return None
    return el.text.strip()


def _xsi_type(el: etree._Element) -> str:
    value = el.get(XSI_TYPE)
    if value is None:
        value = next(
            (v for k, v in el.attrib.items() if k.endswith("}type") and "XMLSchema-instance" in k),
            "",
        )
    return value.rsplit(":", 1)[-1]


def _bool(el: etree._Element | None, name: str, default: bool) -> bool:
    value = _text(el, name)
    return default if value is None else value.lower() == "true"


def _interval(el: etree._Element | None) -> Interval | None:
    if el is None:
        return None
    lower, upper = _text(el, "lower"), _text(el, "upper")
    lo = None if _bool(el, "lower_unbounded", False) or lower is None else _number(lower)
    hi = None if _bool(el, "upper_unbounded", False) or upper is None else _number(upper)
    return Interval(
        lower=lo,
        upper=hi,
        lower_included=_bool(el, "lower_included", True),
        upper_included=_bool(el, "upper_included", True),
    )


def _number(text: str) -> float:
    """A bound: a number, or an ISO 8601 duration (as seconds, for C_DURATION ranges)."""
    try:
        return float(text)
    except ValueError:
        seconds = duration_seconds(text)
        if seconds is None:
            raise ValueError(f"{text!r} is neither a number nor an ISO 8601 duration") from None
        return seconds


def parse_opt(data: bytes | str) -> OperationalTemplate:
    """Parse and check an OPT; :class:`InvalidTemplate` says what is wrong."""
    raw = data.encode() if isinstance(data, str) else data
    if not raw.strip():
        raise InvalidTemplate("the template is empty")
    if len(raw) > MAX_BYTES:
        raise InvalidTemplate(f"the template is larger than {MAX_BYTES} bytes")
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        if "is not a valid URI" not in str(exc):
            raise InvalidTemplate(f"the template is not well-formed XML: {exc}") from None
        root = etree.fromstring(raw, _LENIENT)
        if root is None:
            raise InvalidTemplate(f"the template is not well-formed XML: {exc}") from None
    if _local(root) != "template":
        raise InvalidTemplate(f"the root element is <{_local(root)}>, expected <template>")
    _check_top_level(root)
    template_id = _text(_kid(root, "template_id"), "value")
    if not template_id:
        raise InvalidTemplate("template_id/value is missing or empty")
    concept = _text(root, "concept")
    if not concept:
        raise InvalidTemplate("concept is empty")
    language = _text(_kid(root, "language"), "code_string") or ""
    definition_el = _kid(root, "definition")
    assert definition_el is not None
    archetypes: dict[str, list[CObject]] = {}
    try:
        definition = _object(definition_el, "/", None, archetypes, kind="C_ARCHETYPE_ROOT")
    except (ValueError, TypeError) as exc:
        raise InvalidTemplate(f"the definition is malformed: {exc}") from None
    if not definition.archetype_id:
        raise InvalidTemplate("definition/archetype_id/value is missing")
    for roots in archetypes.values():
        for root_obj in roots:
            _resolve_internal_refs(root_obj)
    return OperationalTemplate(
        template_id=template_id,
        concept=concept,
        uid=_text(_kid(root, "uid"), "value"),
        language=language,
        definition=definition,
        archetypes=archetypes,
        annotations=_annotations(root),
    )


def _annotations(root: etree._Element) -> dict[str, dict[str, str]]:
    """Template annotations by node path, the leading ``[root archetype id]`` dropped."""
    out: dict[str, dict[str, str]] = {}
    for el in _kids(root, "annotations"):
        path = el.get("path") or ""
        if path.startswith("["):
            path = path[path.find("]") + 1 :] or "/"
        items = {i.get("id") or "": (i.text or "").strip() for i in _kids(el, "items")}
        out.setdefault(path, {}).update(items)
    return out


def _check_top_level(root: etree._Element) -> None:
    seen: dict[str, int] = {}
    for child in root:
        name = _local(child)
        if not name:
            continue
        if name not in _TOP_LEVEL:
            raise InvalidTemplate(f"unexpected element <{name}> in <template>")
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1 and name not in _REPEATABLE:
            raise InvalidTemplate(f"element <{name}> appears more than once in <template>")
    for name in _REQUIRED:
        if name not in seen:
            raise InvalidTemplate(f"mandatory element <{name}> is missing from <template>")


def _object(
    el: etree._Element,
    parent_path: str,
    root: CObject | None,
    archetypes: dict[str, list[CObject]],
    *,
    kind: str | None = None,
) -> CObject:
    kind = kind or _xsi_type(el) or "C_COMPLEX_OBJECT"
    rm_type = _text(el, "rm_type_name")
    if not rm_type:
        raise ValueError(f"a node under {parent_path} has no rm_type_name")
    occurrences = _interval(_kid(el, "occurrences")) or Interval(1, 1)
    node_id = _text(el, "node_id") or None
    obj = CObject(kind=kind, rm_type=rm_type, node_id=node_id, occurrences=occurrences, root=root)
    if kind == "C_ARCHETYPE_ROOT":
        obj.archetype_id = _text(_kid(el, "archetype_id"), "value")
        if not obj.archetype_id:
            raise ValueError(f"an archetype root under {parent_path} has no archetype_id")
        for term in _kids(el, "term_definitions"):
            code = term.get("code")
            for item in _kids(term, "items"):
                if code and item.get("id") == "text" and item.text:
                    obj.terms[code] = item.text.strip()
                elif code and item.get("id") == "description" and item.text:
                    obj.descriptions[code] = item.text.strip()
                elif code and item.get("id") == "comment" and item.text:
                    obj.comments[code] = item.text.strip()
        archetypes.setdefault(obj.archetype_id, []).append(obj)
        obj.root = obj
    obj.path = parent_path
    _constraints(el, obj, kind)
    for attr_el in _kids(el, "attributes"):
        name = _text(attr_el, "rm_attribute_name")
        if not name:
            raise ValueError(f"an attribute of {parent_path} has no rm_attribute_name")
        attr = CAttribute(
            name=name,
            existence=_interval(_kid(attr_el, "existence")) or Interval(0, 1),
            multiple=_xsi_type(attr_el) == "C_MULTIPLE_ATTRIBUTE",
            cardinality=_interval(_kid(_kid(attr_el, "cardinality"), "interval"))
            if _kid(attr_el, "cardinality") is not None
            else None,
        )
        base = parent_path.rstrip("/")
        for child_el in _kids(attr_el, "children"):
            child_kind = _xsi_type(child_el) or "C_COMPLEX_OBJECT"
            child_id = (
                _text(_kid(child_el, "archetype_id"), "value")
                if child_kind == "C_ARCHETYPE_ROOT"
                else _text(child_el, "node_id")
            )
            child_path = f"{base}/{name}" + (f"[{child_id}]" if child_id else "")
            attr.children.append(_object(child_el, child_path, obj.root, archetypes))
        obj.attributes.append(attr)
    return obj


def _constraints(el: etree._Element, obj: CObject, kind: str) -> None:
    if kind == "ARCHETYPE_SLOT":
        obj.includes = _slot_patterns(_kids(el, "includes"))
        obj.excludes = _slot_patterns(_kids(el, "excludes"))
    elif kind == "ARCHETYPE_INTERNAL_REF":
        obj.target_path = _text(el, "target_path")
    elif kind in ("C_CODE_PHRASE", "C_CODE_REFERENCE"):
        obj.terminology = _text(_kid(el, "terminology_id"), "value")
        obj.codes = [c.text.strip() for c in _kids(el, "code_list") if c.text and c.text.strip()]
        obj.assumed_code = _text(_kid(el, "assumed_value"), "code_string")
        obj.reference_set_uri = _text(el, "referenceSetUri")
    elif kind == "C_DV_QUANTITY":
        obj.quantity_property = _text(_kid(el, "property"), "code_string")
        for item in _kids(el, "list"):
            obj.quantities.append(
                QuantityItem(
                    units=_text(item, "units") or "",
                    magnitude=_interval(_kid(item, "magnitude")),
                    precision=_interval(_kid(item, "precision")),
                )
            )
    elif kind == "C_DV_ORDINAL":
        for item in _kids(el, "list"):
            code = (
                _kid(_kid(item, "symbol"), "defining_code")
                if _kid(item, "symbol") is not None
                else None
            )
            value = _text(item, "value")
            if value is None or code is None:
                continue
            obj.ordinals.append(
                (
                    int(value),
                    _text(_kid(code, "terminology_id"), "value") or "",
                    _text(code, "code_string") or "",
                )
            )
    elif kind == "C_PRIMITIVE_OBJECT":
        item = _kid(el, "item")
        if item is not None:
            obj.primitive = _primitive(item)


def _primitive(item: etree._Element) -> Primitive:
    kind = _xsi_type(item)
    prim = Primitive(
        kind=kind, pattern=_text(item, "pattern"), range=_interval(_kid(item, "range"))
    )
    values = [v.text.strip() for v in _kids(item, "list") if v.text is not None]
    if kind == "C_INTEGER":
        prim.values = [int(v) for v in values]
    elif kind == "C_REAL":
        prim.values = [float(v) for v in values]
    else:
        prim.values = values
    if kind == "C_BOOLEAN":
        prim.true_valid = _bool(item, "true_valid", True)
        prim.false_valid = _bool(item, "false_valid", True)
    return prim


def _slot_patterns(assertions: Iterator[etree._Element]) -> list[str]:
    patterns = []
    for assertion in assertions:
        for pattern in assertion.iter("{*}pattern"):
            if pattern.text:
                patterns.append(pattern.text.strip())
    return patterns


def _resolve_internal_refs(root: CObject) -> None:
    """Point every ARCHETYPE_INTERNAL_REF under an archetype root at its target node."""
    stack = [root]
    while stack:
        node = stack.pop()
        for attr in node.attributes:
            for child in attr.children:
                if child.kind == "ARCHETYPE_INTERNAL_REF" and child.target_path:
                    child.target = _find(root, child.target_path)
                elif child.root is root or child is root:
                    stack.append(child)


def _find(root: CObject, path: str) -> CObject | None:
    node: CObject | None = root
    for step in [s for s in path.split("/") if s]:
        name, _, rest = step.partition("[")
        node_id = rest.rstrip("]") or None
        attr = node.attribute(name) if node else None
        if attr is None:
            return None
        node = next((c for c in attr.children if node_id is None or c.match_id == node_id), None)
    return node
