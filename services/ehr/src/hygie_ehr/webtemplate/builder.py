"""Operational template → web template (the EHRbase/Better form tree).

Rules (as the EHRbase web templates in the conformance set show them): structural RM
objects (HISTORY, ITEM_TREE...) and single EVENTs are folded into their parent; an
ELEMENT with one value type becomes a node of that type; RM attributes a form needs
(``category``, ``context``, ``subject``, ``language``, ``time``...) are added in a fixed
order; node ids are the lower-case snake of the name, de-duplicated with ``_2``...
"""

from __future__ import annotations

import re

from ..domain.opt import CObject, Interval, OperationalTemplate
from .inputs import inputs_for, proportion_types
from .layout import ANY_VALUE, EVENTS, RM_ATTRS, TRANSPARENT, RmAttr, build_id
from .model import Step, WebNode, WebTemplate

__all__ = ["build_id", "build_web_template"]


def _max(c: CObject) -> int:
    upper = c.occurrences.upper
    return -1 if upper is None else int(upper)


def _min(c: CObject) -> int:
    return int(c.occurrences.lower or 0)


def fixed_name(c: CObject) -> str | None:
    """The name the template fixes on a node (``name/value``), if any."""
    attr = c.attribute("name")
    for child in attr.children if attr else []:
        value = child.attribute("value")
        for prim in value.children if value else []:
            if prim.primitive is not None and len(prim.primitive.values) == 1:
                return str(prim.primitive.values[0])
    return None


_NAMED = re.compile(r",\s*'(?:[^'\\]|\\.)*'\]")


def coded_names(c: CObject) -> list[tuple[str, str]]:
    """(code, term) of each name a template allows when it codes ``name`` with a local code
    list (EHRbase lists one node per name)."""
    attr = c.attribute("name")
    for child in attr.children if attr else []:
        codes = child.attribute("defining_code") if child.rm_type == "DV_CODED_TEXT" else None
        for phrase in codes.children if codes else []:
            if phrase.terminology == "local" and phrase.codes:
                return [(code, _term_of(phrase, code)) for code in phrase.codes]
    return []


def _term_of(c: CObject, code: str) -> str:
    return (c.root.terms.get(code) if c.root is not None else None) or code


def term_name(c: CObject) -> str:
    if c.root is not None and c.node_id and c.node_id in c.root.terms:
        return c.root.terms[c.node_id]
    if c.is_archetype_root and c.root is not None:
        return c.root.terms.get("at0000", c.archetype_id or c.rm_type)
    return c.node_id or c.rm_type


def _value_id(rm_type: str) -> str:
    low = rm_type.lower()
    return (low[3:] if low.startswith("dv_") else low) + "_value"


class _Builder:
    def __init__(self, language: str, opt: OperationalTemplate | None = None) -> None:
        self.language = language
        self.terms = opt.definition.terms if opt is not None else {}
        self.annotations: dict[str, dict[str, str]] = {}
        for path, items in (opt.annotations if opt is not None else {}).items():
            # our constraint paths carry no names: ``[openEHR-EHR-SECTION.adhoc.v1,'Name']``
            # is matched as ``[openEHR-EHR-SECTION.adhoc.v1]``
            self.annotations.setdefault(_NAMED.sub("]", path), {}).update(items)
        #: id(constraint) -> (cardinality, web nodes of that attribute) to list on its node
        self.cardinalities: dict[int, list[tuple[Interval, list[WebNode]]]] = {}

    def inputs(self, rm_type: str, c: CObject | None) -> list[dict[str, object]]:
        return inputs_for(rm_type, c, self.language, self.terms)

    # -- archetyped nodes --------------------------------------------------------------
    def step(
        self,
        attr: str,
        c: CObject,
        *,
        sibling_names: frozenset[str],
        coded: tuple[str, str] | None = None,
    ) -> Step:
        name = coded[1] if coded else fixed_name(c)
        return Step(
            attr=attr,
            rm_type=c.rm_type,
            cobj=c,
            node_id=c.match_id,
            name=name,
            not_names=frozenset() if name else sibling_names,
            default_name=name or term_name(c),
            name_code=coded[0] if coded else None,
        )

    def segment(self, step: Step) -> str:
        if not step.node_id:
            return f"/{step.attr}"
        if step.name:
            return f"/{step.attr}[{step.node_id} and name/value='{step.name}']"
        return f"/{step.attr}[{step.node_id}]"

    def node(self, c: CObject, step: Step, aql: str, *, rm_type: str | None = None) -> WebNode:
        name = step.default_name or c.rm_type
        code = "at0000" if c.is_archetype_root else c.node_id
        described = c.root.descriptions.get(code or "") if c.root is not None else None
        extra: dict[str, object] = {}
        if described:
            extra["localizedDescriptions"] = {self.language: described}
        annotations = dict(self.annotations.get(c.path, {}))
        comment = c.root.comments.get(code or "") if c.root is not None else None
        if comment:
            annotations["comment"] = comment
        if annotations:
            extra["annotations"] = annotations
        return WebNode(
            extra=extra,
            id=build_id(name),
            name=name,
            rm_type=rm_type or c.rm_type,
            min=_min(c),
            max=_max(c),
            aql_path=aql,
            node_id=c.match_id,
            localized=True,
            language=self.language,
            steps=(step,),
            cobj=c,
        )

    def children_of(self, c: CObject, aql: str) -> list[WebNode]:
        """The web nodes under the data object constrained by ``c`` (steps relative to it)."""
        before, after = RM_ATTRS.get(c.rm_type, ((), ()))
        rm_names = {a[0] for a in (*before, *after)}
        nodes: list[WebNode] = []
        for attr in c.attributes:
            if attr.name in ("name", "feeder_audit", "null_flavour") or attr.name in rm_names:
                continue
            named = [fixed_name(k) for k in attr.children]
            start = len(nodes)
            for child in attr.children:
                same = frozenset(
                    n
                    for k, n in zip(attr.children, named, strict=True)
                    if n and k.match_id == child.match_id
                )
                nodes.extend(
                    self.from_child(child, attr.name, aql, same, alone=len(attr.children) == 1)
                )
            card = attr.cardinality
            if attr.multiple and card is not None and ((card.lower or 0) > 1 or card.upper):
                self.cardinalities.setdefault(id(c), []).append((card, nodes[start:]))
        head = [self.rm_attr(c, spec, aql) for spec in before]
        tail = [self.rm_attr(c, spec, aql) for spec in after]
        return _dedupe(head + nodes + tail)

    def from_child(
        self,
        child: CObject,
        attr: str,
        aql: str,
        sibling_names: frozenset[str],
        *,
        alone: bool = True,
    ) -> list[WebNode]:
        target = child.target if child.kind == "ARCHETYPE_INTERNAL_REF" else child
        if target is None or child.kind == "ARCHETYPE_SLOT":
            return []
        if child is not target:  # an internal reference: the target's shape, the ref's place
            target = _retarget(target, child)
        names = coded_names(target)
        if names and target.rm_type not in TRANSPARENT:
            return [
                n
                for coded in names
                for n in self._from_step(
                    target,
                    self.step(attr, target, sibling_names=sibling_names, coded=coded),
                    aql,
                    alone,
                )
            ]
        step = self.step(attr, target, sibling_names=sibling_names)
        return self._from_step(target, step, aql, alone)

    def _from_step(self, target: CObject, step: Step, aql: str, alone: bool) -> list[WebNode]:
        here = aql + self.segment(step)
        single_event = target.rm_type in EVENTS and _max(target) == 1 and alone
        if target.rm_type in TRANSPARENT or single_event:
            inner = self.children_of(target, here)
            for n in inner:
                n.steps = (step, *n.steps)
                n.shared += 1
            return inner
        if target.rm_type == "ELEMENT":
            return [self.element(target, step, here)]
        if target.rm_type.startswith(("DV_", "CODE_PHRASE")):
            return []
        node = self.node(target, step, here)
        node.children = self.children_of(target, here)
        cards = self.cardinalities.pop(id(target), [])
        if cards:
            node.extra["cardinalities"] = [
                {
                    "min": int(card.lower or 0),
                    "max": -1 if card.upper is None else int(card.upper),
                    "ids": [n.id for n in nodes],
                }
                for card, nodes in cards
            ]
        return [node]

    def element(self, c: CObject, step: Step, aql: str) -> WebNode:
        value_attr = c.attribute("value")
        alts: list[tuple[str, CObject | None]] = [
            (k.rm_type, k) for k in (value_attr.children if value_attr else [])
        ] or [(t, None) for t in ANY_VALUE]
        types = sorted(t for t, _ in alts)
        if types == ["DV_CODED_TEXT", "DV_TEXT"]:  # a coded text with free text allowed
            v = next(k for t, k in alts if t == "DV_CODED_TEXT")
            node = self.node(c, step, aql + "/value", rm_type="DV_CODED_TEXT")
            node.node_id = None
            node.steps = (step, Step("value", "DV_CODED_TEXT", v))
            self.leaf(node, "DV_CODED_TEXT", v)
            for i in node.inputs:
                if "list" in i:
                    i["listOpen"] = True
            node.inputs.append({"suffix": "other", "type": "TEXT"})
            return node
        if len(alts) == 1:
            rm_type, v = alts[0]
            node = self.node(c, step, aql + "/value", rm_type=rm_type)
            node.steps = (step, Step("value", rm_type, v))
            self.leaf(node, rm_type, v)
            return node
        node = self.node(c, step, aql)
        for rm_type, v in alts:
            leaf = WebNode(
                id=_value_id(rm_type),
                name=node.name,
                rm_type=rm_type,
                node_id=None if v is None else node.node_id,
                min=0 if v is None else _min(v),
                max=1 if v is None else _max(v),
                aql_path=aql + "/value",
                localized=True,
                language=self.language,
                in_context=v is None,
                steps=(Step("value", rm_type, v),),
                cobj=v,
            )
            for shared in ("localizedDescriptions", "annotations"):
                if shared in node.extra and (v is not None or shared != "annotations"):
                    leaf.extra[shared] = node.extra[shared]
            self.leaf(leaf, rm_type, v)
            node.children.append(leaf)
        return node

    def leaf(self, node: WebNode, rm_type: str, v: CObject | None) -> None:
        if rm_type.startswith("DV_INTERVAL"):
            inner = rm_type[rm_type.find("<") + 1 : -1] if "<" in rm_type else "DV_QUANTITY"
            for bound in ("upper", "lower"):
                attr = v.attribute(bound) if v is not None else None
                bc = attr.children[0] if attr is not None and attr.children else None
                node.children.append(
                    WebNode(
                        id=bound,
                        name=bound,
                        rm_type=inner,
                        min=1 if bc is not None else 0,
                        max=1,
                        aql_path=f"{node.aql_path}/{bound}",
                        name_only=True,
                        inputs=self.inputs(inner, bc),
                        steps=(Step(bound, inner, bc),),
                        cobj=bc,
                    )
                )
            return
        node.inputs = self.inputs(rm_type, v)
        if rm_type == "DV_PROPORTION":
            node.extra["proportionTypes"] = proportion_types(v)

    # -- RM attributes -----------------------------------------------------------------
    def rm_attr(self, parent: CObject, spec: RmAttr, aql: str) -> WebNode:
        attr_name, rm_type, lo, hi, in_context = spec
        attr = parent.attribute(attr_name)
        c = attr.children[0] if attr is not None and attr.children else None
        path = f"{aql}/{attr_name}"
        if hi == -2:
            path = f"{aql}/instruction_details/{attr_name}"
        node = WebNode(
            name_only=attr_name in ("category", "context"),
            id=attr_name,
            name=attr_name,
            rm_type=rm_type,
            min=lo,
            max=1 if hi in (0, -2) else hi,
            hidden=hi == 0,
            display_only=hi == -2,
            aql_path=path,
            in_context=in_context,
            steps=(Step(attr_name, rm_type, c),),
            cobj=c,
        )
        if rm_type in ("EVENT_CONTEXT", "ISM_TRANSITION"):
            node.localized = rm_type == "EVENT_CONTEXT" and False
            node.children = (
                self.children_of(c, path)
                if c is not None
                else [self.rm_attr(_EMPTY[rm_type], s, path) for s in RM_ATTRS[rm_type][1]]
            )
            if rm_type == "ISM_TRANSITION" and attr is not None:
                for other in attr.children[1:]:  # one alternative per careflow step
                    _merge_lists(node, self.children_of(other, path))
                _current_states(node, attr.children)
                node.alternatives = tuple(attr.children)
                constrained = {a.name for k in attr.children for a in k.attributes}
                for child in node.children:
                    if child.id in constrained:  # as EHRbase names the constrained ones
                        child.name = child.name.capitalize()
        elif rm_type != "CODE_PHRASE":
            node.inputs = self.inputs(rm_type, c)
        return node


def _merge_lists(node: WebNode, others: list[WebNode]) -> None:
    """One ISM alternative's code lists appended to the first's: careflow steps once each,
    current states once per careflow step (as EHRbase lists them)."""
    for other in others:
        mine = node.child(other.id)
        if mine is None:
            continue
        for a, b in zip(mine.inputs, other.inputs, strict=False):
            repeat = other.id == "current_state"
            known = set() if repeat else {i["value"] for i in a.get("list", [])}
            a.setdefault("list", []) if "list" in b else None
            a.get("list", []).extend(i for i in b.get("list", []) if i["value"] not in known)


def _codes(c: CObject, attr: str) -> list[str]:
    coded = c.attribute(attr)
    for child in coded.children if coded else []:
        phrase = child.attribute("defining_code")
        for p in phrase.children if phrase else []:
            return list(p.codes)
    return []


def _current_states(node: WebNode, alternatives: list[CObject]) -> None:
    """``currentStates`` of each careflow step: the states its ISM alternative allows (what
    FLAT fills ``current_state`` from when only the careflow step is given)."""
    states: dict[str, list[str]] = {}
    for alt in alternatives:
        for step in _codes(alt, "careflow_step"):
            states.setdefault(step, []).extend(_codes(alt, "current_state"))
    careflow = node.child("careflow_step")
    for i in careflow.inputs if careflow is not None else []:
        for item in i.get("list", []):
            if states.get(item["value"]):
                item["currentStates"] = states[item["value"]]


def _retarget(target: CObject, ref: CObject) -> CObject:
    from dataclasses import replace

    return replace(target, occurrences=ref.occurrences)


def _dedupe(nodes: list[WebNode]) -> list[WebNode]:
    """Siblings with one id: the second is ``id_2``... (in tree order, so an archetyped
    node named *Language* keeps ``language`` and the RM attribute becomes ``language_2``)."""
    seen: dict[str, int] = {}
    for n in nodes:
        count = seen.get(n.id, 0) + 1
        seen[n.id] = count
        if count > 1:
            n.id = f"{n.id}_{count}"
    return nodes


def _empty(rm_type: str) -> CObject:

    return CObject(
        kind="C_COMPLEX_OBJECT", rm_type=rm_type, node_id=None, occurrences=Interval(1, 1)
    )


_EMPTY = {"EVENT_CONTEXT": _empty("EVENT_CONTEXT"), "ISM_TRANSITION": _empty("ISM_TRANSITION")}


def build_web_template(opt: OperationalTemplate) -> WebTemplate:
    """The web template of an operational template."""
    b = _Builder(opt.language or "en", opt)
    root = opt.definition
    step = b.step("", root, sibling_names=frozenset())
    tree = b.node(root, step, "")
    tree.steps = ()
    tree.aql_path = ""
    tree.children = b.children_of(root, "")
    tree.aql_path = ""
    return WebTemplate(template_id=opt.template_id, language=b.language, tree=tree)
