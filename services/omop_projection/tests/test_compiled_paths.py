"""The mapper's compiled path walks reach what ``select`` reaches, in the same order."""

from __future__ import annotations

import pytest

from hygie_omop_projection.domain.compiled import (
    MISSING,
    every,
    every_steps_of,
    first,
    first_node,
    first_time,
    steps_of,
)
from hygie_omop_projection.domain.paths import Located, read_value, select
from hygie_omop_projection.testing import (
    blood_pressure,
    coded,
    composition,
    element,
    lab_result,
    problem,
    quantity,
)


def _bodies() -> list[dict]:
    panel = lab_result([("2345-7", quantity(95, "mg/dL")), ("718-7", quantity(13.5, "g/dL"))])
    # a panel CLUSTER holding analytes, twice the same node id, and a JSON null item
    analytes = panel["data"]["events"][0]["data"]["items"]
    nested = [analytes[1], None, element("at0024", coded("LOINC", "1-8"))]
    analytes.append({"_type": "CLUSTER", "archetype_node_id": analytes[0]["archetype_node_id"],
                     "items": nested})  # fmt: skip
    twice = blood_pressure(120, 80)
    twice["data"]["events"].append(blood_pressure(130, 85)["data"]["events"][0])
    return [composition(twice, panel, problem("ICD10", "E11.9")), composition()]


PATHS = [
    "context/start_time",
    "context/setting",
    "content",
    "content/data/events",
    "content[openEHR-EHR-OBSERVATION.blood_pressure.v2]/data[at0001]/events/time",
    "content/data/events/data/items[at0004]",
    "content/data/events/data/items[openEHR-EHR-CLUSTER.laboratory_test_analyte.v1]/items",
    "content/data/items[at0077]",
    "content/data[at9999]/items",
    "content/**/items[openEHR-EHR-CLUSTER.laboratory_test_analyte.v1]",
    "content/data/**/items[at0024]",
    "**/time",
    "",
]


@pytest.mark.parametrize("path", PATHS)
def test_compiled_walks_reach_the_nodes_select_reaches(path):
    for body in _bodies():
        expected = select(Located(body, "/c"), path)
        pairs = [(loc.node, loc.path) for loc in expected]
        assert every(body, "/c", every_steps_of(path)) == pairs
        steps = steps_of(path)
        if steps is None:  # ``**``: only ``every`` walks it
            assert "**" in path
            continue
        assert first(body, "/c", steps) == (pairs[0] if pairs else None)
        assert first_node(body, steps) is (pairs[0][0] if pairs else MISSING)
        times = [v.when for n, _ in pairs if (v := read_value(n)) is not None and v.when]
        assert first_time(body, steps) == (times[0] if times else None)


def test_repeated_node_ids_are_numbered_as_select_numbers_them():
    (body, _) = _bodies()
    paths = [p for _, p in every(body, "", every_steps_of("content/data/events"))]
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "events[at0006]", "events[at0006#2]", "events[at0002]",
    ]  # fmt: skip
    assert paths == [loc.path for loc in select(Located(body, ""), "content/data/events")]


def test_an_invalid_path_is_left_to_select_which_rejects_it():
    assert steps_of("data/Items[x]") is None
    with pytest.raises(ValueError, match="bad openEHR path segment"):
        select(Located({}, ""), "data/Items[x]")
