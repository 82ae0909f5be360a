"""Property tests: any FLAT document a template admits comes back from canonical JSON
unchanged (pure; hypothesis varies the free values of each template's example)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flat_conformance import _by_root, _sorted

from hygie_ehr.domain.opt import OperationalTemplate
from hygie_ehr.domain.validation import validate
from hygie_ehr.webtemplate import canonical_to_flat, flat_to_canonical, web_template
from hygie_ehr.webtemplate.example import example_flat
from hygie_ehr.webtemplate.model import WebNode
from hygie_ehr.webtemplate.residual import same

NOW = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
TEMPLATE_IDS = (
    "minimal_evaluation.en.v1",
    "nested.en.v1",
    "ehrn_vital_signs.v2",
    "Corona_Anamnese",
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


def _templates() -> list[OperationalTemplate]:
    found = {o.template_id: o for opts in _by_root().values() for o in opts}
    return [found[t] for t in TEMPLATE_IDS if t in found]


def _free_leaves(node: WebNode, prefix: str, out: dict[str, str]) -> None:
    """FLAT keys of the example whose values the template leaves free (text, counts)."""
    for child in node.children:
        path = f"{prefix}/{child.id}" + (":0" if child.max != 1 else "")
        if child.rm_type == "DV_TEXT" and not any("list" in i for i in child.inputs):
            out[path] = "text"
        elif child.rm_type == "DV_COUNT" and not any("validation" in i for i in child.inputs):
            out[path] = "count"
        _free_leaves(child, path, out)


@st.composite
def documents(draw: Any) -> tuple[OperationalTemplate, dict[str, Any]]:
    opt = draw(st.sampled_from(_templates()))
    wt = web_template(opt)
    flat = example_flat(wt, now=NOW)
    free: dict[str, str] = {}
    _free_leaves(wt.tree, wt.tree.id, free)
    for key, kind in free.items():
        if key in flat:
            flat[key] = draw(TEXT) if kind == "text" else draw(st.integers(0, 10**9))
    return opt, flat


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_flat_comes_back_from_canonical_unchanged(doc: tuple[OperationalTemplate, Any]) -> None:
    opt, flat = doc
    data = flat_to_canonical(opt, flat)
    again = canonical_to_flat(opt, data)
    for key, value in flat.items():
        if not key.startswith("ctx/"):
            assert key in again, key
            assert again[key] == value, key
    assert same(_sorted(flat_to_canonical(opt, again)), _sorted(data))


def test_example_compositions_of_the_conformance_templates_validate() -> None:
    templates = {o.template_id: o for opts in _by_root().values() for o in opts}
    valid = [
        t
        for t, opt in sorted(templates.items())
        if not validate(flat_to_canonical(opt, example_flat(web_template(opt), now=NOW)), opt)
    ]
    print(f"examples: {len(valid)}/{len(templates)} validate")
    assert len(valid) >= 80
