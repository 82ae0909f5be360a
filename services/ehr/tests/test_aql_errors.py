"""AQL errors are answers, never 500s: syntax errors say where and what was expected,
unsupported features are named, runaway or oversized queries are refused; values never
become SQL text."""

from __future__ import annotations

from typing import Any

import pytest
from ehr_support import Client
from test_aql_query import (  # noqa: F401 - ehr_service: the fixture, relay off
    AQL,
    BP_ARCHETYPE,
    FROM_BP,
    SYSTOLIC,
    aql,
    ehr_service,
    load,
)

from hygie_ehr.aql import AqlError
from hygie_ehr.aql.terminology import ValueSetExpander, expand_parameters
from hygie_ehr.service.query import QueryLimits


async def post(client: Client, q: str, **extra: Any) -> Any:
    return await client.http.post(AQL, json={"q": q, **extra}, headers=client.headers)


async def test_syntax_errors_point_at_line_column_and_expected_token(client: Client) -> None:
    resp = await post(client, "SELECT c/uid/value\nFROM COMPOSITION c\nWHERE c/name/value = ")
    assert resp.status_code == 400
    body = resp.json()
    assert body["type"].endswith("aql-syntax-error")
    assert (body["line"], body["column"]) == (3, 22)
    assert "end of statement" in body["message"]
    missing_from = await post(client, "SELECT c/uid/value COMPOSITION c")
    assert missing_from.status_code == 400
    assert missing_from.json()["expected"] == "FROM"
    assert (await post(client, "SELECT c FROM COMPOSITION c WHERE c/x ~ 1")).status_code == 400
    assert (await post(client, "")).status_code == 400


async def test_semantic_errors_and_unsupported_features_are_named(client: Client) -> None:
    unknown = await post(client, "SELECT x/uid/value FROM COMPOSITION c")
    assert unknown.status_code == 400
    assert "unknown variable 'x'" in unknown.json()["message"]
    missing = await post(client, "SELECT c FROM COMPOSITION c WHERE c/name/value = $name")
    assert missing.status_code == 400
    assert "$name" in missing.json()["message"]
    folder = await post(client, "SELECT f FROM COMPOSITION c CONTAINS FOLDER f")
    assert folder.status_code == 400
    assert "FOLDER can only be contained in an EHR or a FOLDER" in folder.json()["message"]
    function = await post(client, "SELECT SOUNDEX(c/name/value) FROM COMPOSITION c")
    assert function.status_code == 422
    assert "SOUNDEX" in function.json()["message"]
    both = await post(client, "SELECT c FROM COMPOSITION c LIMIT 1", fetch=2)
    assert both.status_code == 400


async def test_values_and_parameters_cannot_inject_sql(client: Client) -> None:
    await load(client)
    hostile = "x' OR '1'='1'; DROP TABLE entry; --"
    literal = hostile.replace("'", "\\'")
    for where, params in (
        (f"c/name/value = '{literal}'", {}),
        ("c/name/value = $p", {"p": hostile}),
        ("c/name/value LIKE $p", {"p": hostile + "*"}),
        ("c/name/value MATCHES {$p}", {"p": [hostile, "a\\'); DROP TABLE ehr; --"]}),
        ("e/ehr_id/value = $p", {"p": hostile}),
    ):
        result = await aql(
            client, f"SELECT c/uid/value {FROM_BP} WHERE {where}", query_parameters=params
        )
        assert result["rows"] == [], where
    injected_node = await post(
        client,
        f"SELECT o/data[$n]/events FROM OBSERVATION o[{BP_ARCHETYPE}]",
        query_parameters={"n": 'at0001") || true || ("'},
    )
    assert injected_node.status_code == 200
    assert injected_node.json()["rows"] == [[None]] * 3
    counts = await client.svc.fetch("SELECT count(*) AS n FROM entry")
    assert counts[0]["n"] > 0  # still there


async def test_a_result_over_the_row_cap_without_limit_is_refused(client: Client) -> None:
    await load(client)
    client.svc.runtime.app.state.query_limits = QueryLimits(max_rows=2)  # type: ignore[union-attr]
    q = f"SELECT {SYSTOLIC}/magnitude {FROM_BP}"
    refused = await post(client, q)
    assert refused.status_code == 422
    assert "more than 2 rows" in refused.json()["message"]
    assert len((await aql(client, q + " LIMIT 2"))["rows"]) == 2
    assert len((await aql(client, q, fetch=2))["rows"]) == 2
    assert (await post(client, q, fetch=3)).status_code == 400


async def test_a_runaway_query_is_cancelled_with_408(client: Client) -> None:
    await load(client)
    client.svc.runtime.app.state.query_limits = QueryLimits(timeout_ms=1)  # type: ignore[union-attr]
    q = "SELECT COUNT(*) FROM COMPOSITION a CONTAINS ELEMENT x, "  # placeholder replaced below
    q = (
        "SELECT COUNT(*) FROM EHR e CONTAINS (COMPOSITION a CONTAINS ELEMENT x) "
        "AND (COMPOSITION b CONTAINS ELEMENT y) AND (COMPOSITION d CONTAINS ELEMENT z)"
    )
    resp = await post(client, q)
    assert resp.status_code == 408, resp.text
    assert "statement timeout" in resp.json()["message"]


def test_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYGIE_EHR_AQL_TIMEOUT_MS", "1500")
    monkeypatch.setenv("HYGIE_EHR_AQL_MAX_ROWS", "50")
    assert QueryLimits() == QueryLimits(max_rows=50, timeout_ms=1500)
    monkeypatch.setenv("HYGIE_EHR_AQL_TIMEOUT_MS", "soon")
    with pytest.raises(ValueError, match="HYGIE_EHR_AQL_TIMEOUT_MS must be an integer"):
        QueryLimits()


TERMINOLOGY_Q = (
    "SELECT c/uid/value FROM EHR e CONTAINS COMPOSITION c WHERE c/category/defining_code/"
    "code_string MATCHES {terminology://fhir.hl7.org/ValueSet/$expand?url=http://snomed.info/"
    "sct?fhir_vs=isa/73211009}"
)


async def test_terminology_value_sets_are_expanded_by_the_terminology_service(
    client: Client,
) -> None:
    await load(client)
    state = client.svc.runtime.app.state  # type: ignore[union-attr]
    asked: list[str] = []

    async def expand(uri: str) -> list[str]:  # stands for the terminology service
        asked.append(uri)
        return codes

    state.terminology = expand
    codes = ["433"]  # openEHR "event": the category of the three compositions
    assert len((await post(client, TERMINOLOGY_Q)).json()["rows"]) == 3
    assert asked == [TERMINOLOGY_Q.split("{")[1].rstrip("}")]
    codes = ["431"]
    assert (await post(client, TERMINOLOGY_Q)).json()["rows"] == []
    state.terminology = ValueSetExpander("http://127.0.0.1:9", timeout=2)  # nothing listens
    down = await post(client, TERMINOLOGY_Q)
    assert down.status_code == 422, down.text
    assert (
        "terminology service at http://127.0.0.1:9 could not be reached" in (down.json()["message"])
    )


def test_terminology_uris() -> None:
    assert expand_parameters(
        "terminology://fhir.hl7.org/ValueSet/$expand?url=http://snomed.info/sct?fhir_vs=isa/1"
        "&displayLanguage=fr"
    ) == {"url": "http://snomed.info/sct?fhir_vs=isa/1", "displayLanguage": "fr"}
    assert expand_parameters("terminology://Snomed-CT/hierarchy?rootConceptId=50043002") == {
        "url": "http://snomed.info/sct?fhir_vs=isa/50043002"
    }
    with pytest.raises(AqlError, match="a terminology URI is"):
        expand_parameters("terminology://somewhere/else")
