"""The EHRbase AQL conformance suite run against the EHR store.

The suite's material lives beside the repository, in
``../shared/conformance/openehr/ehrbase-integration-tests/aql``: the data load (templates,
EHR statuses, compositions, folders) and, in ``fields_and_results/*/combinations/*.csv``,
the statements' parameters with their expected result files. EHRbase drives each CSV from
a Robot file that states a precondition (which templates, EHRs and compositions) and a
statement template; those are transcribed below (:data:`SCENARIOS`), one scenario per data
load, so that a scenario's CSVs share one freshly started service on an empty database.

Every CSV row is run through ``POST /openehr/v1/query/aql`` and compared with its expected
file as EHRbase compares it: ``meta`` (and ``q``) ignored, strings case-insensitive, the
``uid`` of selected whole objects ignored (minted by the server), row order only where the
statement orders, the row count (``nr_of_results``) checked. A row fails with its reason
(the HTTP status and message, the row count, or the first differing rows).

Run ``pytest tests/conformance/aql -s`` to see the pass rate per area (also written as JSON
to ``$AQL_CONFORMANCE_REPORT`` when set). Each scenario asserts that its pass count
does not fall below what the engine reached when the scenario was last measured
(``floor``), so a regression fails and an improvement is visible in the report.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hygie_ehr.bootstrap import SPEC, SYSTEM_ID
from hygie_platform.testing import RunningService, start_service

pytestmark = pytest.mark.slow

AQL = Path(__file__).resolve().parents[3].parent / (
    "shared/conformance/openehr/ehrbase-integration-tests/aql"
)
DATA = AQL / "data_load"
RESULTS = AQL / "fields_and_results"
OBS = "openEHR-EHR-OBSERVATION.conformance_observation.v0"
CLUSTER = "openEHR-EHR-CLUSTER.conformance_cluster.v0"
AREAS = (
    "select",
    "from",
    "where",
    "order_by",
    "limit",
    "parameter",
    "aggregate_functions",
    "version",
    "folder",
)


@dataclass(frozen=True)
class Csv:
    """One CSV of the suite and how its rows become statements."""

    area: str
    name: str
    #: the Robot file's statement template (``${column}`` substituted); ``None``: the
    #: expected file's ``q`` (EHRbase writes the statement there)
    template: str | None = None
    ordered: bool = False
    #: compare the row count only (the Robot file does not compare the expected file)
    count_only: bool = False
    #: columns whose values are the server's (times): not compared
    ignore_columns: tuple[int, ...] = ()
    #: the Robot file unescapes the values (``\\x`` → ``x``, twice)
    robot_escapes: bool = False

    @property
    def id(self) -> str:
        return f"{self.area}/{self.name}"


@dataclass(frozen=True)
class Ehr:
    compositions: tuple[str, ...] = ()
    status: str | None = None  # an EHR_STATUS of data_load/ehrs
    ehr_id: str | None = None  # PUT /ehr/{ehr_id} instead of POST
    #: new versions after the commits: (index of the composition, file), in order
    updates: tuple[tuple[int, str], ...] = ()
    status_update: str | None = None
    directory: str | None = None  # a FOLDER tree of data_load/folder, after the commits
    #: AUDIT_DETAILS.description of the first commits (openEHR-AUDIT_DETAILS header)
    audit_description: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    opts: tuple[str, ...]
    ehrs: tuple[Ehr, ...]
    csvs: tuple[Csv, ...]
    folders: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        return sum(len(_rows(c)) for c in self.csvs)


CONF = "conformance_ehrbase.de.v0.opt"
CONTAINS_OPT = "aql-conformance-ehrbase.org.v0.opt"
TYPE_REP = "type_repetition_conformance_ehrbase.org.opt"
E = "FROM EHR e[ehr_id/value = '${ehr_id}'] CONTAINS"
EHR_AND_UID = "SELECT e/ehr_id/value, c/uid/value FROM EHR e CONTAINS COMPOSITION c WHERE ${where}"


def _aggregates() -> tuple[Csv, ...]:
    out: list[Csv] = []
    for fn in ("max", "min", "sum", "avg"):
        for suffix, where in (("", "FROM"), ("_ent", E)):
            out.append(
                Csv(
                    "aggregate_functions",
                    f"{fn}{suffix}.csv",
                    f"SELECT {fn.upper()}(${{path}}) {where} OBSERVATION o[{OBS}]",
                )
            )
            out.append(
                Csv(
                    "aggregate_functions",
                    f"{fn}_on_dv_ordered{suffix}.csv",
                    f"SELECT {fn.upper()}(${{path}}) {where} OBSERVATION o[{OBS}]",
                )
            )
    for suffix, where in (("", "FROM"), ("_ent", E)):
        out.append(
            Csv(
                "aggregate_functions",
                f"aggregate_function_and_where_max{suffix}.csv",
                f"SELECT MAX(${{path}}) {where} OBSERVATION o[{OBS}] WHERE ${{path}} != ${{where}}",
            )
        )
    out.append(
        Csv(
            "aggregate_functions",
            "count_on_paths.csv",
            f"SELECT COUNT(${{path}}) FROM OBSERVATION o[{OBS}]",
        )
    )
    return tuple(out)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "conformance_max_v3",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_max_v3.json",)),),
        (
            Csv(
                "select",
                "path_from_entry_to_data_value.csv",
                f"SELECT ${{path}} FROM OBSERVATION o [{OBS}]",
            ),
            Csv(
                "select",
                "path_from_entry_to_data_value_in_cluster.csv",
                f"SELECT o/data[at0001]/events[at0002]/data[at0003]/items[{CLUSTER}]/${{path}} "
                f"FROM OBSERVATION o[{OBS}]",
            ),
            Csv(
                "select",
                "path_from_entry_to_data_value_in_cluster_second_query.csv",
                f"SELECT c/${{path}} FROM OBSERVATION o[{OBS}] CONTAINS CLUSTER c[{CLUSTER}]",
            ),
            Csv("select", "null_value_in_select.csv", "${statement}"),
            *_aggregates(),
        ),
    ),
    Scenario(
        "conformance_max_v2",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_max_v2.json",)),),
        (
            Csv(
                "where",
                "compare_by_dv_ordered.csv",
                f"SELECT ${{path}}${{spath}} FROM OBSERVATION o [{OBS}] "
                "WHERE ${path} ${condition}",
            ),
            Csv(
                "where",
                "compare_with_null.csv",
                f"SELECT ${{path}}${{spath}} FROM OBSERVATION o[{OBS}] "
                "WHERE ${condition} ${path}",
            ),
            Csv(
                "where",
                "compare_with_null_ent.csv",
                f"SELECT ${{path}}${{spath}} {E} OBSERVATION o[{OBS}] "
                "WHERE ${condition} ${path}",
            ),
            Csv(
                "order_by",
                "order_by_path_from_entry_to_dv_ordered.csv",
                f"SELECT ${{path}}${{spath}} FROM OBSERVATION o[{OBS}] "
                "ORDER BY ${path} ${order}",
                ordered=True,
            ),
        ),
    ),
    Scenario(
        "conformance_max",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_max.json",)),),
        (
            Csv("from", "from_composition.csv", "SELECT t FROM ${type} t"),
            Csv(
                "select",
                "drill_down_observation.csv",
                f"SELECT ${{path}} FROM OBSERVATION o[{OBS}]",
            ),
            Csv("from", "from_abstract_types.csv", "SELECT t FROM ${type} t"),
            Csv("from", "from_common_types.csv", "SELECT t FROM ${type} t"),
            Csv(
                "from",
                "from_item_structure_composition.csv",
                "SELECT t FROM COMPOSITION CONTAINS ${type} t",
            ),
            Csv(
                "from",
                "from_item_structure_and_element_in_composition.csv",
                "SELECT t FROM COMPOSITION CONTAINS ${type} t",
            ),
        ),
    ),
    Scenario(
        "four_compositions",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_max.json",) * 4),),
        (
            Csv(
                "limit",
                "with_offset_without_order_by.csv",
                "SELECT c FROM COMPOSITION c LIMIT ${limit} OFFSET ${offset}",
            ),
            Csv(
                "limit",
                "without_offset_without_order_by.csv",
                "SELECT c FROM COMPOSITION c LIMIT ${limit}",
            ),
        ),
    ),
    Scenario(
        "contains",
        (CONTAINS_OPT,),
        (Ehr(("aql-conformance-ehrbase.org.v0_contains.json",)),),
        (
            Csv("from", "from_contains_plus_contain_chaining.csv", "SELECT o FROM ${from}"),
            Csv("from", "from_simple_and_or.csv", "${statement}"),
            Csv("from", "from_simple_and_or_ent.csv", "${statement}"),
            Csv("from", "from_predicate_on_extracted_column.csv"),
            Csv(
                "where",
                "compare_extracted_column_ii.csv",
                "SELECT o FROM COMPOSITION CONTAINS OBSERVATION o WHERE ${where}",
                count_only=True,
            ),
        ),
    ),
    Scenario(
        "contains_and_type_repetition",
        (CONTAINS_OPT, TYPE_REP),
        (
            Ehr(
                (
                    "aql-conformance-ehrbase.org.v0_contains.json",
                    "type_repetition_conformance_ehrbase.org_one_reptation.json",
                )
            ),
        ),
        (
            Csv(
                "order_by",
                "order_by_extracted_columns_i.csv",
                "SELECT c/name/value FROM EHR e CONTAINS COMPOSITION c ORDER BY ${order}",
                ordered=True,
            ),
            Csv(
                "order_by",
                "order_by_extracted_columns_ii.csv",
                "SELECT o/name/value FROM EHR e CONTAINS COMPOSITION c CONTAINS OBSERVATION o "
                "ORDER BY ${order}",
                ordered=True,
            ),
            Csv("order_by", "order_by_extracted_columns_iv.csv", ordered=True),
            Csv("order_by", "multiple_order_by_extracted_columns_iv.csv", ordered=True),
        ),
    ),
    Scenario(
        "type_repetition",
        (TYPE_REP,),
        (Ehr(("type_repetition_conformance_ehrbase.org_one_reptation.json",)),),
        (
            Csv(
                "from",
                "from_contains_with_repeating_types.csv",
                "SELECT o FROM COMPOSITION contains ${from}",
            ),
        ),
    ),
    Scenario(
        "dates_1_to_4",
        (CONF,),
        (Ehr(tuple(f"conformance_ehrbase.de.v0_known_date_type_{i}.json" for i in range(1, 5))),),
        (
            Csv(
                "where",
                "compare_by_dv_date.csv",
                "SELECT ${path}/value FROM EHR e CONTAINS COMPOSITION c CONTAINS EVENT_CONTEXT ec "
                "WHERE ${path} ${condition}",
            ),
            Csv("order_by", "order_by_dv_date.csv", ordered=True),
        ),
    ),
    Scenario(
        "dates_1_and_2",
        (CONF,),
        (
            Ehr(
                (
                    "conformance_ehrbase.de.v0_known_date_type_1.json",
                    "conformance_ehrbase.de.v0_known_date_type_2.json",
                )
            ),
        ),
        (
            Csv(
                "where",
                "compare_by_paths_within_same_hierarchy_lvl.csv",
                "SELECT ${path} FROM EHR e CONTAINS COMPOSITION c CONTAINS EVENT_CONTEXT ec "
                "WHERE ${where}",
            ),
            Csv(
                "order_by",
                "order_by_paths_within_same_hierarchy_lvl_i.csv",
                "SELECT ${path} FROM EHR e CONTAINS COMPOSITION c ORDER BY ${path} ${order}",
                ordered=True,
            ),
            Csv(
                "order_by",
                "order_by_paths_within_same_hierarchy_lvl_ii.csv",
                "SELECT ${path} FROM EHR e CONTAINS COMPOSITION c CONTAINS EVENT_CONTEXT ec "
                "ORDER BY ${path} ${order}",
                ordered=True,
            ),
            Csv(
                "order_by",
                "order_by_paths_within_same_hierarchy_lvl_iii.csv",
                "SELECT ${path} FROM EHR e CONTAINS COMPOSITION c CONTAINS INTERVAL_EVENT i "
                "ORDER BY ${path} ${order}",
                ordered=True,
            ),
        ),
    ),
    Scenario(
        "date_1",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_known_date_type_1.json",)),),
        (Csv("select", "drill_down_event_context.csv", "SELECT ${path} FROM EVENT_CONTEXT c"),),
    ),
    Scenario(
        "choice",
        ("choice_ehrbase.de.v0.opt",),
        (Ehr(("choice_ehrbase.de.v0.json",)),),
        (
            Csv(
                "where",
                "compare_by_unknown_type.csv",
                "SELECT o/data[at0001]/events[at0002]/data[at0003]/items[at0004]/value/value, "
                "o/data[at0001]/events[at0002]/data[at0003]/items[at0004]/value/magnitude "
                "FROM OBSERVATION o[openEHR-EHR-OBSERVATION.choice.v0] WHERE ${path} ${condition}",
            ),
            Csv(
                "order_by",
                "order_by_unknown_type.csv",
                "SELECT o/data[at0001]/events[at0002]/data[at0003]/items[at0004]/value/value, "
                "o/data[at0001]/events[at0002]/data[at0003]/items[at0004]/value/magnitude "
                "FROM OBSERVATION o[openEHR-EHR-OBSERVATION.choice.v0] ORDER BY ${path} ASC",
            ),
        ),
    ),
    Scenario(
        "where_values",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_where.json",)),),
        (
            Csv(
                "where",
                "compare_by_paths_over_hierarchy_lvl.csv",
                "SELECT ${path} FROM COMPOSITION c CONTAINS OBSERVATION o WHERE ${path} = ${value}",
            ),
            Csv(
                "parameter",
                "parameter_in_where.csv",
                "SELECT ${path} FROM COMPOSITION c CONTAINS OBSERVATION o WHERE ${path} = $param",
            ),
        ),
    ),
    Scenario(
        "array_valued",
        (CONF,),
        (Ehr(("conformance_ehrbase.de.v0_array_valued.json",)),),
        (
            Csv(
                "select",
                "array_valued_paths.csv",
                "SELECT ${path} FROM COMPOSITION c CONTAINS OBSERVATION o",
            ),
            Csv(
                "where",
                "compare_with_array_valued_paths.csv",
                "SELECT ${path} FROM COMPOSITION c CONTAINS OBSERVATION o WHERE ${where}",
            ),
        ),
    ),
    Scenario(
        "two_ehrs_max_and_type_repetition",
        (CONF, TYPE_REP),
        (
            Ehr(("conformance_ehrbase.de.v0_max.json",)),
            Ehr(("type_repetition_conformance_ehrbase.org_one_reptation.json",)),
        ),
        (
            Csv(
                "where",
                "compare_extracted_column_i.csv",
                EHR_AND_UID,
            ),
            Csv("where", "compare_extracted_column_i_ent.csv"),
            Csv(
                "where",
                "like_with_extracted_column_i.csv",
                "SELECT c/name/value, c/uid/value FROM EHR e CONTAINS COMPOSITION c "
                "WHERE c/name/value LIKE ${like}",
            ),
            Csv("where", "like_with_extracted_column_i_ent.csv"),
        ),
    ),
    Scenario(
        "ehr_with_two_compositions",
        (CONF,),
        (
            Ehr(("conformance_ehrbase.de.v0_max.json",) * 2),
            Ehr(("conformance_ehrbase.de.v0_max.json",)),
        ),
        (
            Csv("where", "single_and_or.csv", EHR_AND_UID),
            Csv("where", "single_and_or_ent.csv"),
        ),
    ),
    Scenario(
        "two_ehrs_two_compositions_each",
        (CONF,),
        (
            Ehr(("conformance_ehrbase.de.v0_max.json",) * 2),
            Ehr(("conformance_ehrbase.de.v0_max.json",) * 2),
        ),
        (
            Csv(
                "where",
                "chaining_and_or.csv",
                EHR_AND_UID,
            ),
            Csv("where", "chaining_and_or_ent.csv"),
        ),
    ),
    Scenario(
        "three_ehrs",
        (CONF,),
        tuple(Ehr(("conformance_ehrbase.de.v0_max.json",)) for _ in range(3)),
        (
            Csv(
                "where",
                "matches_extracted_column.csv",
                EHR_AND_UID,
            ),
            Csv("where", "matches_extracted_column_ent.csv"),
        ),
    ),
    Scenario(
        "two_ehrs_ordered_ids",
        (CONTAINS_OPT, TYPE_REP),
        (
            Ehr(
                ("aql-conformance-ehrbase.org.v0_contains_with_compo_uid.json",),
                ehr_id="1e4b5c1a-0000-4000-8000-000000000001",
            ),
            Ehr(
                ("type_repetition_conformance_ehrbase.org_one_reptation_with_compo_uid.json",),
                ehr_id="9e4b5c1a-0000-4000-8000-000000000002",
            ),
        ),
        (
            Csv(
                "order_by",
                "order_by_extracted_columns_iii.csv",
                "SELECT ${path} FROM EHR e CONTAINS COMPOSITION c ORDER BY ${path} ${order}",
                ordered=True,
            ),
        ),
    ),
    Scenario(
        "count_on_ehr",
        (CONF,),
        (
            Ehr(("conformance_ehrbase.de.v0_max.json",)),
            Ehr(("conformance_ehrbase.de.v0_max.json",) * 2),
        ),
        (
            Csv("aggregate_functions", "count_on_ehr.csv", "${statement}"),
            Csv("aggregate_functions", "count_on_ehr_ent.csv", "${statement}"),
        ),
    ),
    Scenario(
        "like_names",
        (TYPE_REP,),
        (Ehr(("type_repetition_conformance_ehrbase.org_like.json",)),),
        (
            Csv(
                "where",
                "like_with_extracted_column_ii.csv",
                "SELECT s/name/value FROM EHR e CONTAINS COMPOSITION c CONTAINS SECTION s "
                "WHERE s/name/value LIKE ${like}",
                robot_escapes=True,
            ),
            Csv(
                "where",
                "like_with_extracted_column_ii_ent.csv",
                f"SELECT s/name/value {E} COMPOSITION c CONTAINS SECTION s "
                "WHERE s/name/value LIKE ${like}",
                robot_escapes=True,
            ),
        ),
    ),
    Scenario(
        "status_and_blood_pressure",
        ("ehrbase_blood_pressure_simple.de.v0.opt",),
        (Ehr(("ehrbase_blood_pressure_simple.de.v0.json",), status="status1.json"),),
        (Csv("from", "contains.csv", "SELECT l/name/value FROM EHR e CONTAINS ${path}"),),
    ),
    Scenario(
        "status_with_item_single",
        (),
        (Ehr(status="status3.json"),),
        (
            Csv("select", "drill_down_ehr_status.csv", "SELECT ${path} FROM EHR_STATUS es"),
            Csv("select", "drill_down_ehr.csv"),
        ),
    ),
    Scenario(
        "status_only",
        (),
        (Ehr(status="status1.json"),),
        (
            Csv(
                "from",
                "from_single_ehr.csv",
                "SELECT s/${path} FROM EHR e CONTAINS EHR_STATUS s "
                "WHERE e/ehr_id/value = '${ehr_id}'",
            ),
            Csv("from", "via_part.csv"),  # the expected files' statement (Robot's is older)
            Csv("select", "primitives_in_simple_select.csv", "SELECT ${primitive} FROM EHR"),
        ),
    ),
    Scenario(
        "composition_versions",
        ("persistent_minimal.opt",),
        (
            Ehr(
                ("persistent_minimal.en.v1__full.json",) * 4,
                # the description the expected files show on the creations
                audit_description="<optional audit description>",
                updates=(
                    (1, "persistent_minimal.en.v1__updated_v2.json"),
                    (1, "persistent_minimal.en.v1__updated_v3.json"),
                    (2, "persistent_minimal.en.v1__updated_v2.json"),
                    (3, "persistent_minimal.en.v1__updated_v2.json"),
                ),
            ),
        ),
        (
            Csv(
                "version",
                "version_latest_version_contains_composition_data_values.csv",
                "SELECT ${path} FROM VERSION cv[LATEST_VERSION] CONTAINS "
                "COMPOSITION c[openEHR-EHR-COMPOSITION.persistent_minimal.v1] ${where} ${order_by}",
            ),
            Csv(
                "version",
                "version_latest_version_contains_observation_data_values.csv",
                "SELECT ${path} FROM VERSION cv[LATEST_VERSION] CONTAINS "
                "OBSERVATION o[openEHR-EHR-OBSERVATION.minimal.v1] ${where} ${order_by}",
            ),
        ),
    ),
    Scenario(
        "ehr_status_versions",
        (),
        (Ehr(), Ehr(status_update="status3.json")),
        (
            Csv(
                "version",
                "version_latest_version_contains_ehr_status_data_values.csv",
                "SELECT ${path} FROM VERSION cv[LATEST_VERSION] CONTAINS EHR_STATUS s "
                "${where} ${order_by}",
            ),
        ),
    ),
    Scenario(
        "folder_with_compositions",
        (CONF,),
        (
            Ehr(
                ("conformance_ehrbase.de.v0_max.json",) * 4,
                directory="folder_with_compositions.json",
            ),
        ),
        (
            Csv("folder", "folder_contains_compo_select_by_name.csv"),
            # the commit times (second column) are the server's: not compared
            Csv("folder", "folder_contains_compo_select_with_version.csv", ignore_columns=(1,)),
        ),
    ),
    Scenario(
        "folder_hierarchy",
        (),
        (Ehr(directory="folder_complex_hierarchy.json"),),
        (Csv("folder", "folder_contains_folder_find_by.csv"),),
    ),
    Scenario(
        "folder_details",
        (),
        (Ehr(directory="folder_details.json"),),
        (Csv("folder", "select_paths_in_folder.csv"),),
    ),
)


#: rows of each scenario passing when last measured: fewer fails the test (a regression)
FLOORS = {
    "conformance_max_v3": 122,
    "conformance_max_v2": 66,
    "conformance_max": 46,
    "four_compositions": 10,
    "contains": 28,
    "contains_and_type_repetition": 13,
    "type_repetition": 5,
    "dates_1_to_4": 9,
    "dates_1_and_2": 24,
    "date_1": 11,
    "choice": 21,
    "where_values": 18,
    "array_valued": 14,
    "two_ehrs_max_and_type_repetition": 26,
    "ehr_with_two_compositions": 12,
    "two_ehrs_two_compositions_each": 7,
    "three_ehrs": 4,
    "two_ehrs_ordered_ids": 6,
    "count_on_ehr": 4,
    "like_names": 14,
    "status_and_blood_pressure": 1,
    "status_with_item_single": 49,
    "status_only": 16,
    "composition_versions": 18,
    "ehr_status_versions": 7,
    "folder_with_compositions": 10,
    "folder_hierarchy": 4,
    "folder_details": 4,
}


# ---------------------------------------------------------------------------- helpers


def _rows(c: Csv) -> list[dict[str, str]]:
    with (RESULTS / c.area / "combinations" / c.name).open(newline="") as f:
        return [
            {k.strip().removeprefix("${").removesuffix("}"): v for k, v in row.items() if k}
            for row in csv.DictReader(f)
        ]


def _sub(text: str, values: dict[str, str]) -> str:
    """``${name}`` replaced where ``name`` is known (twice: values may hold variables)."""
    for _ in range(3):
        text = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)
    return text


def _fold(value: Any, *, ordered: bool) -> Any:
    """The comparison form: strings lower-cased, integral floats as ints, lists sorted
    (recursively) unless the order is meant (EHRbase compares with ``ignore_order``)."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        items = [_fold(v, ordered=False) for v in value]
        return items if ordered else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: _fold(v, ordered=False) for k, v in value.items()}
    return value


def _strip_uids(rows: list[Any]) -> list[Any]:
    return [
        [{k: v for k, v in c.items() if k != "uid"} if isinstance(c, dict) else c for c in r]
        if isinstance(r, list)
        else r
        for r in rows
    ]


def _diff(actual: list[Any], expected: list[Any], *, ordered: bool) -> str | None:
    a = [_fold(r, ordered=False) for r in _strip_uids(actual)]
    e = [_fold(r, ordered=False) for r in _strip_uids(expected)]
    if not ordered:
        a = sorted(a, key=lambda v: json.dumps(v, sort_keys=True))
        e = sorted(e, key=lambda v: json.dumps(v, sort_keys=True))
    if a == e:
        return None
    for i, (x, y) in enumerate(zip(a, e, strict=False)):
        if x != y:
            where, got, want = _first_difference(x, y, "")
            return f"row {i} at {where or '/'}: got {_short(got)}, expected {_short(want)}"
    return f"got {len(a)} rows, expected {len(e)}"


def _first_difference(x: Any, y: Any, path: str) -> tuple[str, Any, Any]:
    """The first place two JSON values differ (a key, an index) and the values there."""
    if isinstance(x, dict) and isinstance(y, dict):
        for key in sorted(x.keys() | y.keys()):
            if x.get(key, "<absent>") != y.get(key, "<absent>"):
                return _first_difference(
                    x.get(key, "<absent>"), y.get(key, "<absent>"), f"{path}/{key}"
                )
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return path, x, y


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def _prepared(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The blood pressure composition lacks the ``offset`` its template makes mandatory
    (EHRbase does not check it); the EHR store validates, so the offset is given."""
    if name == "ehrbase_blood_pressure_simple.de.v0.json":
        for event in body["content"][0]["data"]["events"]:
            event.setdefault("offset", {"_type": "DV_DURATION", "value": "PT0S"})
    return body


@dataclass
class Outcome:
    csv: Csv
    query: str
    reason: str | None  # None: passed
    skipped: str | None = None  # no expectation to compare with: not counted


class Loader:
    """The suite's preconditions through the REST API, as EHRbase's Robot keywords do."""

    def __init__(self, svc: RunningService) -> None:
        self.http: httpx.AsyncClient = svc.client
        self.headers = svc.auth("clinician")
        self.vars: dict[str, str] = {
            "system_id_with_tenant": SYSTEM_ID,
            "tenant_id_from_system_id": SYSTEM_ID[:1],
            "EMPTY": "",
            "TRUE": "true",
        }

    async def _ok(self, resp: httpx.Response, what: str) -> httpx.Response:
        assert resp.status_code in (200, 201, 204), f"{what}: {resp.status_code} {resp.text}"
        return resp

    async def load(self, scenario: Scenario) -> None:
        for opt in scenario.opts:
            await self._ok(
                await self.http.post(
                    "/openehr/v1/definition/template/adl1.4",
                    content=(DATA / "opts" / opt).read_bytes(),
                    headers={**self.headers, "Content-Type": "application/xml"},
                ),
                opt,
            )
        c_index = 0
        for n, spec in enumerate(scenario.ehrs, start=1):
            ehr_id = await self._ehr(spec, n)
            uids: list[str] = []
            for name in spec.compositions:
                c_index += 1
                body = _prepared(
                    name, json.loads(_sub((DATA / "compositions" / name).read_text(), self.vars))
                )
                audit = (
                    {"openEHR-AUDIT_DETAILS": f'description="{spec.audit_description}"'}
                    if spec.audit_description
                    else {}
                )
                resp = await self._ok(
                    await self.http.post(
                        f"/openehr/v1/ehr/{ehr_id}/composition",
                        json=body,
                        headers={**self.headers, **audit},
                    ),
                    name,
                )
                uid = resp.headers["ETag"].strip('"')
                uids.append(uid)
                self.vars[f"c_uid{c_index}"] = uid.split("::")[0]
                self.vars[f"compo_uid_{c_index}"] = uid
            for index, name in spec.updates:
                body = json.loads((DATA / "compositions" / name).read_text())
                vo_id = uids[index].split("::")[0]
                resp = await self._ok(
                    await self.http.put(
                        f"/openehr/v1/ehr/{ehr_id}/composition/{vo_id}",
                        json=body,
                        headers={**self.headers, "If-Match": uids[index]},
                    ),
                    name,
                )
                uids[index] = resp.headers["ETag"].strip('"')
                version = uids[index].rsplit("::", 1)[1]
                self.vars[f"compo_uid_{index + 1}_v{version}"] = uids[index]
            if spec.directory:
                body = json.loads(_sub((DATA / "folder" / spec.directory).read_text(), self.vars))
                await self._ok(
                    await self.http.post(
                        f"/openehr/v1/ehr/{ehr_id}/directory", json=body, headers=self.headers
                    ),
                    spec.directory,
                )
            # EHRbase's version suite numbers the observation's compositions apart
            if spec.updates:
                self.vars.setdefault("compo_uid_7_v2", uids[2])

    async def _ehr(self, spec: Ehr, n: int) -> str:
        body = json.loads((DATA / "ehrs" / spec.status).read_text()) if spec.status else None
        if body is None:
            body = {
                "_type": "EHR_STATUS",
                "archetype_node_id": "openEHR-EHR-EHR_STATUS.generic.v1",
                "name": {"value": "EHR Status"},
                "subject": {
                    "external_ref": {
                        "id": {"_type": "GENERIC_ID", "value": f"AQL-CONF-{n}", "scheme": "id"},
                        "namespace": "aql.conformance",
                        "type": "PERSON",
                    }
                },
                "is_modifiable": True,
                "is_queryable": True,
            }
        headers = {**self.headers, "Prefer": "return=representation"}
        if spec.ehr_id:
            resp = await self.http.put(f"/openehr/v1/ehr/{spec.ehr_id}", json=body, headers=headers)
        else:
            resp = await self.http.post("/openehr/v1/ehr", json=body, headers=headers)
        await self._ok(resp, "EHR")
        ehr = resp.json()
        ehr_id = str(ehr["ehr_id"]["value"])
        status = ehr["ehr_status"]
        status_uid = status.get("uid", {}).get("value") or status.get("id", {}).get("value", "")
        ref = body["subject"]["external_ref"]
        self.vars.update(
            {
                "ehr_id": ehr_id,
                f"ehr_id{n}": ehr_id,
                "ehr_status_uid": status_uid,
                f"ehr_status_id{n}": status_uid,
                "ehr_status_subject_id": ref["id"]["value"],
                "ehr_status_subject_namespace": ref["namespace"],
                "subject_external_ref_value": ref["id"]["value"],
                "subject_external_ref_namespace": ref["namespace"],
                "ehr_time_created": str(ehr.get("time_created", {}).get("value", "")),
            }
        )
        if spec.status_update:
            new = json.loads((DATA / "ehrs" / spec.status_update).read_text())
            resp = await self._ok(
                await self.http.put(
                    f"/openehr/v1/ehr/{ehr_id}/ehr_status",
                    json=new,
                    headers={**headers, "If-Match": status_uid},
                ),
                spec.status_update,
            )
            self.vars[f"ehr_status_id{n}_version2"] = resp.headers["ETag"].strip('"')
            # EHRbase's suite names it after its third EHR (it deletes the second one)
            self.vars.setdefault("ehr_status_id3_version2", self.vars[f"ehr_status_id{n}_version2"])
        return ehr_id


def _parameter(text: str) -> Any:
    """A CSV parameter value: JSON (its quotes escaped with backslashes in the CSV)."""
    text = text.replace('\\"', '"')
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def _run_row(loader: Loader, c: Csv, row: dict[str, str]) -> Outcome:
    if c.robot_escapes:  # DataDriver, then Replace Variables: two levels of escapes
        row = {k: re.sub(r"\\(.)", r"\1", re.sub(r"\\(.)", r"\1", v)) for k, v in row.items()}
    values = {**loader.vars, **{k: _sub(v, loader.vars) for k, v in row.items()}}
    expected: dict[str, Any] | None = None
    count_only = c.count_only
    if row.get("expected_file"):
        text = _sub((RESULTS / c.area / row["expected_file"]).read_text(), values)
        if not text.strip():  # the suite left this expectation empty
            if row.get("nr_of_results") in (None, ""):
                return Outcome(c, "", None, skipped="the suite's expected file is empty")
            count_only = True
        try:
            try:
                expected = json.loads(text)
            except json.JSONDecodeError:  # values holding backslashes, inside JSON strings
                escaped = {k: json.dumps(v)[1:-1] for k, v in values.items()}
                raw = (RESULTS / c.area / row["expected_file"]).read_text()
                expected = json.loads(_sub(raw, escaped))
        except json.JSONDecodeError as exc:
            if not count_only:
                return Outcome(c, "", f"expected file {row['expected_file']} unreadable: {exc}")
    template = c.template or (expected or {}).get("q")
    if not template:
        return Outcome(c, "", "no statement template for this row")
    query = " ".join(_sub(template, values).split())
    body: dict[str, Any] = {"q": query}
    if "$param" in query and "value" in row:
        body["query_parameters"] = {"param": _parameter(row["value"])}
    resp = await loader.http.post("/openehr/v1/query/aql", json=body, headers=loader.headers)
    if resp.status_code != 200:
        return Outcome(c, query, f"HTTP {resp.status_code}: {resp.text[:300]}")
    result = resp.json()
    rows = result["rows"]
    count = row.get("nr_of_results")
    if count not in (None, "") and len(rows) != int(count):
        return Outcome(c, query, f"{len(rows)} rows, expected {count}: {_short(rows)}")
    if row.get("expected_value"):
        got = rows[0][0] if rows and rows[0] else None
        ok = str(got) == row["expected_value"]
        return Outcome(c, query, None if ok else f"got {got}, expected {row['expected_value']}")
    if count_only or expected is None:
        return Outcome(c, query, None)
    want = expected.get("rows", [])
    if c.ignore_columns:
        rows = [[v for i, v in enumerate(r) if i not in c.ignore_columns] for r in rows]
        want = [[v for i, v in enumerate(r) if i not in c.ignore_columns] for r in want]
    reason = _diff(rows, want, ordered=c.ordered)
    if reason is None and "columns" in expected:
        got_cols = [_fold(col.get("path"), ordered=True) for col in result["columns"]]
        want_cols = [_fold(col.get("path"), ordered=True) for col in expected["columns"]]
        if got_cols != want_cols:
            reason = f"columns {got_cols}, expected {want_cols}"
    return Outcome(c, query, reason)


# ------------------------------------------------------------------------------ tests

REPORT: dict[str, list[Outcome]] = defaultdict(list)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if not REPORT:
        return
    lines, summary = ["", "EHRbase AQL conformance (pass / run):"], {}
    for area in AREAS:
        outcomes = [o for o in REPORT.get(area, []) if not o.skipped]
        passed = sum(o.reason is None for o in outcomes)
        summary[area] = {"passed": passed, "total": len(outcomes)}
        lines.append(f"  {area:<20} {passed:>4} / {len(outcomes):<4}")
        by_csv: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            by_csv[o.csv.name].append(o)
        skipped = sum(bool(o.skipped) for o in REPORT.get(area, []))
        if skipped:
            lines[-1] += f"  ({skipped} rows without expectation: empty expected file)"
        summary[area]["csvs"] = {
            name: [sum(o.reason is None for o in os_), len(os_)] for name, os_ in by_csv.items()
        }
    print("\n".join(lines))
    target = os.environ.get("AQL_CONFORMANCE_REPORT")
    if target:
        failures = [
            {"csv": o.csv.id, "q": o.query, "reason": o.reason}
            for area in AREAS
            for o in REPORT.get(area, [])
            if o.reason and not o.skipped
        ]
        Path(target).write_text(json.dumps({"areas": summary, "failures": failures}, indent=1))


@pytest.fixture
async def service(hygie_settings) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    async with start_service(SPEC, hygie_settings, background=False) as svc:
        yield svc


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_ehrbase_aql_scenario(service: RunningService, scenario: Scenario) -> None:
    loader = Loader(service)
    await loader.load(scenario)
    outcomes = [await _run_row(loader, c, row) for c in scenario.csvs for row in _rows(c)]
    passed = 0
    for o in outcomes:
        REPORT[o.csv.area].append(o)
        if o.skipped:
            continue
        if o.reason is None:
            passed += 1
        else:
            print(f"FAIL {o.csv.id}: {o.query}\n     {o.reason}")
    run = sum(not o.skipped for o in outcomes)
    print(f"{scenario.name}: {passed}/{run}")
    floor = FLOORS.get(scenario.name, 0)
    assert passed >= floor, f"{scenario.name}: {passed} rows pass, {floor} did before"
