"""``GET /definition/template/adl1.4/{id}/example``: for every template of the suite, a
composition the store accepts — except where the template admits none."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from ehr_support import CONFORMANCE, Client

from hygie_ehr.domain.opt import OperationalTemplate, parse_opt
from hygie_ehr.domain.validation import validate
from hygie_ehr.webtemplate.example import example_canonical

NOW = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
DEFINITION = "/openehr/v1/definition/template/adl1.4"


@cache
def _templates() -> dict[str, tuple[Path, OperationalTemplate]]:
    seen: dict[str, tuple[Path, OperationalTemplate]] = {}
    for path in sorted(CONFORMANCE.glob("**/*.opt")):
        if "invalid_templates" not in path.parts:
            opt = parse_opt(path.read_bytes())
            seen.setdefault(opt.template_id, (path, opt))
    return seen


def _unsatisfiable(opt: OperationalTemplate) -> list[str]:
    """Multiple attributes whose children must occur more often, together, than the
    attribute's cardinality allows: no composition can conform."""
    found = []
    stack = [opt.definition]
    while stack:
        c = stack.pop()
        for attr in c.attributes:
            stack.extend(attr.children)
            upper = attr.cardinality.upper if attr.cardinality else None
            needed = sum(child.occurrences.lower or 0 for child in attr.children)
            if attr.multiple and upper is not None and needed > upper:
                found.append(f"{c.path}{attr.name}: {needed:g} required, at most {upper:g}")
    return found


def test_the_example_of_every_suite_template_validates_unless_none_can() -> None:
    templates = _templates()
    failing = {}
    for template_id, (_, opt) in sorted(templates.items()):
        issues = validate(example_canonical(opt, now=NOW), opt)
        if issues:
            failing[template_id] = issues
    print(f"examples: {len(templates) - len(failing)}/{len(templates)} validate; {sorted(failing)}")
    for template_id in failing:
        assert _unsatisfiable(templates[template_id][1]), (template_id, failing[template_id][:3])
    assert sorted(failing) == ["cardinality_of_section"]
    assert len(templates) >= 99


def test_an_event_offset_the_template_requires_is_the_time_since_the_origin() -> None:
    _, opt = _templates()["ehrbase_blood_pressure_simple.de.v0"]
    data = example_canonical(opt, now=NOW)
    [observation] = data["content"]
    history = observation["data"]
    for event in history["events"]:
        start = datetime.fromisoformat(history["origin"]["value"])
        time = datetime.fromisoformat(event["time"]["value"])
        seconds = int((time - start).total_seconds())
        assert event["offset"] == {"_type": "DV_DURATION", "value": f"PT{seconds}S"}


async def test_examples_of_the_hard_templates_are_accepted_by_the_store(client: Client) -> None:
    ehr_id = await client.new_ehr()
    hard = [
        "ehrbase_blood_pressure_simple.de.v0",  # a mandatory EVENT.offset
        "clinical_content_validation",  # RM-mandatory structures the template leaves empty
        "SSIAD PRIeSM",  # two named alternatives of one archetype in a section
        "minimal_evaluation.en.v1",
    ]
    for template_id in hard:
        await client.upload(_templates()[template_id][0])
        example = await client.http.get(
            f"{DEFINITION}/{template_id}/example", headers=client.headers
        )
        assert example.status_code == 200, example.text
        stored = await client.commit(ehr_id, example.json())
        assert stored.status_code == 201, f"{template_id}: {stored.text}"
    flat = await client.http.get(
        f"{DEFINITION}/ehrbase_blood_pressure_simple.de.v0/example",
        params={"format": "FLAT"},
        headers=client.headers,
    )
    assert flat.status_code == 200, flat.text
    committed = await client.http.post(
        f"/openehr/v1/ehr/{ehr_id}/composition",
        params={"templateId": "ehrbase_blood_pressure_simple.de.v0", "format": "FLAT"},
        json=flat.json(),
        headers=client.headers,
    )
    assert committed.status_code == 201, committed.text
    impossible = "cardinality_of_section"
    await client.upload(_templates()[impossible][0])
    example = await client.http.get(f"{DEFINITION}/{impossible}/example", headers=client.headers)
    refused = await client.commit(ehr_id, example.json())
    assert refused.status_code == 422
    assert "/content" in [issue["path"] for issue in refused.json()["issues"]]
