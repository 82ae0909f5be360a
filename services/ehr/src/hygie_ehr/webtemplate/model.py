"""The web template: a form-oriented tree of an operational template (the format of
EHRbase's and Better's ``/definition/template/adl1.4/{id}`` with
``Accept: application/openehr.wt+json``), plus what the FLAT and STRUCTURED converters
need to place a value in canonical data (the RM steps from the parent node)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.opt import CObject

__all__ = ["Step", "WebNode", "WebTemplate"]


@dataclass(frozen=True, slots=True)
class Step:
    """One RM attribute hop from a parent data object towards a node's data object."""

    attr: str
    rm_type: str
    cobj: CObject | None = None
    #: archetype_node_id the data object must carry (None: not LOCATABLE)
    node_id: str | None = None
    #: the name the template fixes (``name/value='...'``), matched and set on creation
    name: str | None = None
    #: the names of same-node-id siblings this step must not take
    not_names: frozenset[str] = frozenset()
    #: the term text used as name when creating the object
    default_name: str | None = None
    #: the local code of ``name`` when the template constrains it to a code list
    name_code: str | None = None


@dataclass(slots=True)
class WebNode:
    """A web template node (``id``, ``rmType``, ``min``/``max``, ``aqlPath``, ``inputs``...)."""

    id: str
    name: str
    rm_type: str
    min: int
    max: int
    aql_path: str
    node_id: str | None = None
    localized: bool = False
    #: ``localizedName`` without ``localizedNames`` (category, context, interval bounds)
    name_only: bool = False
    language: str = "en"
    in_context: bool = False
    inputs: list[dict[str, Any]] = field(default_factory=list)
    children: list[WebNode] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: RM hops from the parent node's data object; the last one repeats (``:n``)
    steps: tuple[Step, ...] = ()
    #: accepted in FLAT but not listed (EVENT.width: EHRbase lists it on INTERVAL_EVENT only)
    hidden: bool = False
    #: listed but not converted (ACTION.instruction_details parts; FLAT has its own key)
    display_only: bool = False
    #: how many leading steps belong to folded parents (shared, never repeated)
    shared: int = 0
    cobj: CObject | None = None
    #: ISM_TRANSITION: every alternative the template gives (one per careflow step)
    alternatives: tuple[CObject, ...] = ()
    #: caches of the converters (children by id, folded objects)
    by_id: dict[str, WebNode] | None = field(default=None, repr=False)
    folds: Any = field(default=None, repr=False)

    def child(self, node_id: str) -> WebNode | None:
        """The child of this id; ``name2`` (older EHRbase de-duplication) is ``name_2``."""
        if self.by_id is None:
            self.by_id = {c.id: c for c in self.children if not c.display_only}
        found = self.by_id.get(node_id)
        if found is not None:
            return found
        stem = node_id.rstrip("0123456789")
        if stem != node_id and not stem.endswith("_"):
            return self.child(f"{stem}_{node_id[len(stem) :]}")
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.localized or self.name_only:
            out["localizedName"] = self.name
        out["rmType"] = self.rm_type
        if self.node_id:
            out["nodeId"] = self.node_id
        out["min"] = self.min
        out["max"] = self.max
        if self.localized:
            out["localizedNames"] = {self.language: self.name}
        out.update(self.extra)
        if self.aql_path:
            out["aqlPath"] = self.aql_path
        if self.inputs:
            out["inputs"] = self.inputs
        if self.children:
            out["children"] = [c.to_json() for c in self.children if not c.hidden]
        if self.in_context:
            out["inContext"] = True
        return out


@dataclass(slots=True)
class WebTemplate:
    template_id: str
    language: str
    tree: WebNode
    version: str = "2.3"

    def to_json(self) -> dict[str, Any]:
        return {
            "templateId": self.template_id,
            "version": self.version,
            "defaultLanguage": self.language,
            "languages": [self.language],
            "tree": self.tree.to_json(),
        }
