"""A slice of the EHRbase AQL conformance suite (``../shared/conformance/openehr/
ehrbase-integration-tests/aql``): each suite's precondition (template, one EHR, its
compositions) and statement template as the suite's Robot files state them (the data
version matching the expected files where the two disagree); every CSV
row is run and its result compared with the expected file (``meta`` ignored; strings
compared case-insensitively; row order only where the statement orders).

The pass rate of each suite is asserted not to fall below what this engine reached when
the suite was added, so that a regression fails and an improvement is noticed."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from ehr_support import CONFORMANCE, Client, load_json
from test_aql_query import ehr_service  # noqa: F401 - the fixture: relay off

AQL_DATA = CONFORMANCE / "aql"
OBS = "openEHR-EHR-OBSERVATION.conformance_observation.v0"


@dataclass(frozen=True)
class Suite:
    area: str
    csv: str
    compositions: tuple[str, ...]
    template: str
    ordered: bool
    floor: float  # the pass rate this engine reached
    opt: str = "conformance_ehrbase.de.v0.opt"

    @property
    def id(self) -> str:
        return f"{self.area}/{self.csv}"


SUITES = [
    Suite(
        "select",
        "path_from_entry_to_data_value.csv",
        ("conformance_ehrbase.de.v0_max_v3.json",),
        f"SELECT ${{path}} FROM OBSERVATION o [{OBS}]",
        False,
        1.0,
    ),
    Suite(
        "where",
        "compare_by_dv_ordered.csv",
        ("conformance_ehrbase.de.v0_max_v2.json",),
        f"SELECT ${{path}}${{spath}} FROM OBSERVATION o [{OBS}] WHERE ${{path}} ${{condition}}",
        False,
        1.0,
    ),
    Suite(
        "order_by",
        "order_by_path_from_entry_to_dv_ordered.csv",
        ("conformance_ehrbase.de.v0_max_v2.json",),
        f"SELECT ${{path}}${{spath}} FROM OBSERVATION o[{OBS}] ORDER BY ${{path}} ${{order}}",
        True,
        1.0,
    ),
    Suite(
        "aggregate_functions",
        "max.csv",
        ("conformance_ehrbase.de.v0_max_v3.json",),
        f"SELECT MAX(${{path}}) FROM OBSERVATION o[{OBS}]",
        False,
        1.0,
    ),
    Suite(
        "limit",
        "with_offset_without_order_by.csv",
        ("conformance_ehrbase.de.v0_max.json",) * 4,
        "SELECT c FROM COMPOSITION c LIMIT ${limit} OFFSET ${offset}",
        False,
        1.0,
    ),
    Suite(
        "limit",
        "without_offset_without_order_by.csv",
        ("conformance_ehrbase.de.v0_max.json",) * 4,
        "SELECT c FROM COMPOSITION c LIMIT ${limit}",
        False,
        1.0,
    ),
    Suite(
        "from",
        "from_contains_plus_contain_chaining.csv",
        ("aql-conformance-ehrbase.org.v0_contains.json",),
        "SELECT o FROM ${from}",
        False,
        1.0,
        opt="aql-conformance-ehrbase.org.v0.opt",
    ),
    Suite(
        "where",
        "compare_by_dv_date.csv",
        tuple(f"conformance_ehrbase.de.v0_known_date_type_{i}.json" for i in range(1, 5)),
        "SELECT ${path}/value FROM EHR e CONTAINS COMPOSITION c CONTAINS EVENT_CONTEXT ec "
        "WHERE ${path} ${condition}",
        False,
        1.0,
    ),
    *(
        Suite(
            "aggregate_functions",
            f"{name}.csv",
            ("conformance_ehrbase.de.v0_max_v3.json",),
            f"SELECT {function}(${{path}}) FROM OBSERVATION o[{OBS}]",
            False,
            1.0,
        )
        for function, name in (
            ("MIN", "min"),
            ("SUM", "sum"),
            ("AVG", "avg"),
            ("MAX", "max_on_dv_ordered"),
            ("MIN", "min_on_dv_ordered"),
        )
    ),
]


def _substitute(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), text)


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _cells(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows without the ``uid`` of selected objects (the suites exclude it: it is minted
    by the server)."""
    return [
        [{k: v for k, v in c.items() if k != "uid"} if isinstance(c, dict) else c for c in r]
        for r in rows
    ]


def _same(actual: Any, expected: Any, *, ordered: bool) -> bool:
    a_rows, e_rows = _normal(_cells(actual["rows"])), _normal(_cells(expected["rows"]))
    if not ordered:
        a_rows = sorted(a_rows, key=lambda r: json.dumps(r, sort_keys=True))
        e_rows = sorted(e_rows, key=lambda r: json.dumps(r, sort_keys=True))
    columns = _normal(actual["columns"]) == _normal(expected.get("columns", actual["columns"]))
    return a_rows == e_rows and columns


async def _run_suite(client: Client, suite: Suite) -> tuple[int, list[str]]:
    await client.upload(AQL_DATA / "data_load" / "opts" / suite.opt)
    ehr_id = await client.new_ehr("CONF-1")
    variables = {"ehr_id": ehr_id, "EMPTY": ""}
    for i, name in enumerate(suite.compositions, start=1):
        resp = await client.commit(
            ehr_id, load_json(AQL_DATA / "data_load" / "compositions" / name)
        )
        assert resp.status_code == 201, resp.text
        variables[f"c_uid{i}"] = resp.headers["ETag"].strip('"').split("::")[0]
    area_dir = AQL_DATA / "fields_and_results" / suite.area
    passed, failures = 0, []
    with (area_dir / "combinations" / suite.csv).open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        values = {k.strip("${}"): v for k, v in row.items()}
        query = _substitute(_substitute(suite.template, values), {"EMPTY": ""})
        resp = await client.http.post(
            "/openehr/v1/query/aql", json={"q": query}, headers=client.headers
        )
        count = int(values["nr_of_results"]) if values.get("nr_of_results") else None
        if values.get("expected_file"):
            expected_text = (area_dir / values["expected_file"]).read_text()
            substituted = _substitute(
                _substitute(expected_text, {**values, **variables}), variables
            )
            expected = json.loads(substituted)
        else:  # the suite checks the row count only
            expected = {"rows": resp.json()["rows"][:count] if resp.status_code == 200 else []}
        ok = resp.status_code == 200 and _same(resp.json(), expected, ordered=suite.ordered)
        if ok and (count is None or len(resp.json()["rows"]) == count):
            passed += 1
        else:
            got = resp.json().get("rows") if resp.status_code == 200 else resp.text[:200]
            failures.append(f"{query}\n    got {got}\n    expected {expected['rows']}")
    return passed, failures


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.id)
async def test_ehrbase_aql_suite(client: Client, suite: Suite) -> None:
    passed, failures = await _run_suite(client, suite)
    total = passed + len(failures)
    rate = passed / total
    print(f"\n{suite.id}: {passed}/{total} ({rate:.0%})")
    for failure in failures:
        print("  FAIL", failure)
    assert rate >= suite.floor
