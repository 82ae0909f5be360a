"""The AQL parser and compiler without a database: grammar, precedence, error positions,
and properties (any text fails cleanly; no value ever reaches the SQL text)."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hygie_ehr.aql import AqlError, AqlSyntaxError, compile_query, parse
from hygie_ehr.aql.ast import (
    AndCondition,
    AndContains,
    Comparison,
    Containment,
    Exists,
    FunctionCall,
    IdentifiedPath,
    Literal,
    NotCondition,
    OrContains,
    Parameter,
)
from hygie_ehr.aql.expressions import like_pattern


def test_contains_binds_tighter_than_and_and_or_and_parentheses_regroup() -> None:
    q = parse("SELECT c FROM EHR e CONTAINS COMPOSITION c CONTAINS OBSERVATION o AND EVALUATION v")
    ehr = q.from_
    assert isinstance(ehr, Containment)
    composition = ehr.contains
    assert isinstance(composition, Containment)
    assert isinstance(composition.contains, AndContains)
    grouped = parse(
        "SELECT c FROM (COMPOSITION c CONTAINS OBSERVATION o) "
        "OR (COMPOSITION d NOT CONTAINS SECTION s)"
    ).from_
    assert isinstance(grouped, OrContains)
    right = grouped.right
    assert isinstance(right, Containment)
    assert right.negated
    assert right.contains == Containment("SECTION", "s")


def test_paths_predicates_and_where_operators() -> None:
    q = parse(
        "SELECT o/data[at0001]/events[at0002, 'Any event']/data/items[openEHR-EHR-CLUSTER.x.v1 "
        "and name/value=$n]/value AS v, COUNT(DISTINCT o/uid/value) "
        "FROM EHR e[ehr_id/value=$ehr] CONTAINS VERSION x[ALL_VERSIONS] CONTAINS "
        "OBSERVATION o[openEHR-EHR-OBSERVATION.blood_pressure.v2] "
        "WHERE NOT EXISTS o/x AND o/y >= -1.5e1 -- a comment\n"
        "ORDER BY v DESCENDING, o/z LIMIT 5 OFFSET 10"
    )
    path = q.columns[0].expr
    assert isinstance(path, IdentifiedPath)
    assert q.columns[0].alias == "v"
    events = path.steps[1].predicate
    assert events is not None
    assert (events.node_id, events.name) == (Literal("at0002"), Literal("Any event"))
    cluster = path.steps[3].predicate
    assert cluster is not None
    assert cluster.tests[0].value == Parameter("n")
    count = q.columns[1].expr
    assert isinstance(count, FunctionCall)
    assert count.distinct
    assert isinstance(q.where, AndCondition)
    assert isinstance(q.where.left, NotCondition)
    assert isinstance(q.where.left.condition, Exists)
    assert q.where.right == Comparison(
        IdentifiedPath("o", q.where.right.left.steps, "o/y"),  # type: ignore[union-attr]
        ">=",
        Literal(-15.0),
    )
    assert [o.descending for o in q.order_by] == [True, False]
    assert (q.limit, q.offset) == (5, 10)
    assert q.parameters == {"n", "ehr"}
    version = q.from_.contains  # type: ignore[union-attr]
    assert version.version_scope == "ALL_VERSIONS"


@pytest.mark.parametrize(
    ("statement", "line", "column", "expected"),
    [
        ("SELEC c FROM COMPOSITION c", 1, 1, "SELECT"),
        ("SELECT c\nFROM COMPOSITION c\nWHERE", 3, 6, None),
        ("SELECT c FROM COMPOSITION c[", 1, 29, None),
        ("SELECT c FROM COMPOSITION c LIMIT x", 1, 35, "a whole number after LIMIT"),
        ("SELECT c FROM VERSION v[ANY] CONTAINS COMPOSITION c", 1, 25, None),
        ("SELECT c FROM COMPOSITION c WHERE c/name/value = 'open", 1, 50, None),
        ("SELECT c FROM COMPOSITION c NOT SECTION s", 1, 33, "CONTAINS"),
    ],
)
def test_syntax_errors_name_line_column_and_expectation(
    statement: str, line: int, column: int, expected: str | None
) -> None:
    with pytest.raises(AqlSyntaxError) as err:
        parse(statement)
    assert (err.value.line, err.value.column) == (line, column)
    if expected:
        assert expected in str(err.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_parsed_or_refused_with_a_syntax_error(text: str) -> None:
    with contextlib.suppress(AqlSyntaxError):
        parse(text)


_WORDS = st.sampled_from(
    ["SELECT", "FROM", "c", "o", "/", "[", "]", "at0001", "CONTAINS", "WHERE", "=", "'x'", "$p",
     "COMPOSITION", "AND", "OR", "NOT", "(", ")", ",", "1", "ORDER", "BY", "LIMIT", "EXISTS"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=25))
def test_token_soup_never_crashes_the_parser(words: list[str]) -> None:
    with contextlib.suppress(AqlSyntaxError):
        parse(" ".join(words))


#: text values (numbers and ISO dates in text are compared as such: another, fixed, SQL shape)
_HOSTILE = st.text(min_size=1, max_size=40).filter(
    lambda s: (
        "\x00" not in s
        and not re.match(r"^\d{4}-\d{2}-\d{2}", s)
        and any(ch.isalpha() and ch not in "eE" for ch in s)
    )
)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@settings(max_examples=200, deadline=None)
@given(_HOSTILE, _HOSTILE)
def test_values_travel_as_bind_parameters_never_as_sql(first: str, second: str) -> None:
    """The SQL text does not depend on the values: only the bound values do."""

    def compiled(value: str) -> tuple[str, list[object]]:
        q = parse(
            "SELECT c/name/value FROM EHR e[ehr_id/value=$p] CONTAINS COMPOSITION c "
            f"WHERE c/name/value = '{_escaped(value)}' OR c/name/value LIKE $p "
            "OR c/uid/value MATCHES {$p} OR c/content[$p]/name/value = $p"
        )
        result = compile_query(q, {"p": value})
        return result.sql, list(result.values.values())

    sql_a, values_a = compiled(first)
    sql_b, values_b = compiled(second)
    assert sql_a == sql_b
    assert first in values_a
    assert second in values_b


def test_compile_errors_name_the_problem() -> None:
    with pytest.raises(AqlError, match="unknown variable 'x'"):
        compile_query(parse("SELECT x FROM COMPOSITION c"))
    with pytest.raises(AqlError, match=r"\$who"):
        compile_query(parse("SELECT c FROM COMPOSITION c WHERE c/name/value = $who"))
    with pytest.raises(AqlError, match="defined twice"):
        compile_query(parse("SELECT c FROM COMPOSITION c CONTAINS OBSERVATION c"))
    with pytest.raises(AqlError, match="NOT CONTAINS"):
        compile_query(parse("SELECT o FROM COMPOSITION c NOT CONTAINS OBSERVATION o"))


def test_or_in_node_predicates_and_terminology_value_sets() -> None:
    q = parse("SELECT e FROM EHR e[ehr_id/value = 'a' or ehr_id/value = 'b' and x/y = 1]")
    predicate = q.from_.predicate
    assert predicate is not None
    assert [[t.attributes for t in group] for group in predicate.any_of] == [
        [("ehr_id", "value")],
        [("ehr_id", "value"), ("x", "y")],  # AND binds tighter than OR
    ]
    uri = "terminology://Snomed-CT/hierarchy?rootConceptId=50043002"
    matches = parse(f"SELECT c FROM COMPOSITION c WHERE c/name/value MATCHES {{{uri}, 'x'}}")
    assert matches.where.values[0].uri == uri  # type: ignore[union-attr]
    compiled = compile_query(matches, expansions={uri: ["50043002", "1234"]})
    assert "50043002" not in compiled.sql  # the codes are bound, never SQL text
    assert '["50043002","1234"]' in compiled.values.values()


def test_like_wildcards_and_their_escapes() -> None:
    assert like_pattern("Name*") == "Name%"
    assert like_pattern("Name%_?") == "Name\\%\\__"  # % and _ are literal in AQL
    assert like_pattern("Name\\*\\?") == "Name*?"  # escaped wildcards stand for themselves
    assert like_pattern("Name\\\\*") == "Name\\\\%"  # an escaped backslash, then a wildcard
