"""OHDSI Data Quality Dashboard checks that apply to the projection (``hygie omop dq``).

Driven by the DQD 5.4 definition files (field, concept and check-description CSVs, given
as a directory): each check names a table/field and a threshold (the percentage of
violating rows tolerated). The run date stands in for ``GETDATE()`` so that a run is
reproducible. Checks against the vocabulary tables (``isStandardValidConcept``,
``fkDomain``, ``fkClass``, foreign keys to ``CONCEPT``) need the vocabulary, which lives
in the terminology service: they are reported as ``not_applicable``.
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.cdm import CDM_TABLES, PRIMARY_KEYS

__all__ = ["CheckResult", "render_html", "run_checks"]

_DATE_FIELDS = {
    "visit_occurrence": "visit_start_date", "condition_occurrence": "condition_start_date",
    "drug_exposure": "drug_exposure_start_date", "procedure_occurrence": "procedure_date",
    "measurement": "measurement_date", "observation": "observation_date", "death": "death_date",
}  # fmt: skip
_CLINICAL_WITH_VISIT = ("condition_occurrence", "drug_exposure", "procedure_occurrence",
                        "measurement", "observation")  # fmt: skip


@dataclass
class CheckResult:
    check: str
    level: str
    table: str
    field: str | None
    category: str
    subcategory: str
    violated: int | None
    denominator: int
    threshold: float
    status: str  # passed | failed | not_applicable
    concept_id: int | None = None
    detail: str = ""

    @property
    def pct(self) -> float:
        return (
            0.0 if not self.violated or not self.denominator else self.violated / self.denominator
        )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _literal(raw: str, run_date: date) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.upper().startswith("YEAR(GETDATE())"):
        return str(run_date.year + int(raw.split("+", 1)[1]) if "+" in raw else run_date.year)
    if "GETDATE" in raw.upper():
        return f"DATE '{run_date + timedelta(days=1)}'"
    if re.fullmatch(r"'\d{8}'", raw):
        return f"DATE '{raw[1:5]}-{raw[5:7]}-{raw[7:9]}'"
    try:
        return repr(float(raw))
    except ValueError:
        return None


class _Runner:
    def __init__(self, conn: AsyncConnection, schema: str, categories: dict[str, tuple[str, str]]):
        self.conn, self.s, self.categories = conn, schema, categories
        self.results: list[CheckResult] = []
        self.counts: dict[str, int] = {}

    async def scalar(self, sql: str) -> int:
        return int((await self.conn.execute(text(sql.format(s=self.s)))).scalar_one() or 0)

    async def total(self, table: str) -> int:
        if table not in self.counts:
            self.counts[table] = await self.scalar(f"SELECT count(*) FROM {{s}}.{table}")
        return self.counts[table]

    async def add(self, check: str, level: str, table: str, field: str | None, threshold: str,
                  violated_sql: str | None, *, denominator: int | None = None,
                  concept_id: int | None = None, detail: str = "") -> None:  # fmt: skip
        category, sub = self.categories.get(check, ("", ""))
        denom = await self.total(table) if denominator is None else denominator
        limit = float(threshold or 0)
        if violated_sql is None:
            na = CheckResult(check, level, table, field, category, sub, None, denom, limit,
                             "not_applicable", concept_id, detail)  # fmt: skip
            self.results.append(na)
            return
        violated = await self.scalar(violated_sql)
        pct = 0.0 if not denom else 100 * violated / denom
        status = "failed" if pct > limit else "passed"
        self.results.append(CheckResult(check, level, table, field, category, sub, violated,
                                        denom, limit, status, concept_id, detail))  # fmt: skip


async def run_checks(
    conn: AsyncConnection, schema: str, definitions: Path, *, run_date: date
) -> list[CheckResult]:
    """Run the applicable DQD checks on a generation schema."""
    categories = {
        r["checkName"]: (r["kahnCategory"], r["kahnSubcategory"])
        for r in _csv(definitions / "OMOP_CDMv5.4_Check_Descriptions.csv")
    }
    run = _Runner(conn, schema, categories)
    for row in _csv(definitions / "OMOP_CDMv5.4_Field_Level.csv"):
        table, field = row["cdmTableName"].lower(), row["cdmFieldName"].lower()
        if table not in CDM_TABLES or field not in {c for c, _, _ in CDM_TABLES[table]}:
            continue
        await _field_checks(run, row, table, field, run_date)
    for row in _csv(definitions / "OMOP_CDMv5.4_Concept_Level.csv"):
        table = row["cdmTableName"].lower()
        if table in CDM_TABLES:
            await _concept_checks(run, row, table)
    return run.results


async def _field_checks(run: _Runner, row: dict[str, str], table: str, field: str,
                        run_date: date) -> None:  # fmt: skip
    t, f = f"{{s}}.{table}", field
    yes = {k for k, v in row.items() if v == "Yes"}
    if "isRequired" in yes:
        await run.add("isRequired", "FIELD", table, f, row["isRequiredThreshold"],
                      f"SELECT count(*) FROM {t} WHERE {f} IS NULL")  # fmt: skip
    if "isPrimaryKey" in yes and PRIMARY_KEYS.get(table) == f:
        await run.add("isPrimaryKey", "FIELD", table, f, row["isPrimaryKeyThreshold"],
                      f"SELECT count(*) FROM (SELECT {f} FROM {t} GROUP BY {f} "
                      "HAVING count(*) > 1) d")  # fmt: skip
    if "isForeignKey" in yes:
        target = row["fkTableName"].lower()
        sql = None
        if target in ("person", "visit_occurrence"):
            key = row["fkFieldName"].lower()
            sql = (f"SELECT count(*) FROM {t} x WHERE x.{f} IS NOT NULL AND NOT EXISTS "
                   f"(SELECT 1 FROM {{s}}.{target} y WHERE y.{key} = x.{f})")  # fmt: skip
        await run.add("isForeignKey", "FIELD", table, f, row["isForeignKeyThreshold"], sql,
                      detail="" if sql else f"references {target} (vocabulary)")  # fmt: skip
    if "isStandardValidConcept" in yes:
        await run.add("isStandardValidConcept", "FIELD", table, f, "0", None,
                      detail="needs the vocabulary")  # fmt: skip
    if "measureValueCompleteness" in yes:
        await run.add("measureValueCompleteness", "FIELD", table, f,
                      row["measureValueCompletenessThreshold"],
                      f"SELECT count(*) FROM {t} WHERE {f} IS NULL")  # fmt: skip
    for check in ("standardConceptRecordCompleteness", "sourceConceptRecordCompleteness"):
        if check in yes:
            await run.add(check, "FIELD", table, f, row[f"{check}Threshold"],
                          f"SELECT count(*) FROM {t} WHERE {f} = 0")  # fmt: skip
    for check, op in (("plausibleValueLow", "<"), ("plausibleValueHigh", ">")):
        bound = _literal(row[check], run_date)
        if bound is not None:
            await run.add(check, "FIELD", table, f, row[f"{check}Threshold"],
                          f"SELECT count(*) FROM {t} WHERE {f} {op} {bound}")  # fmt: skip
    if "plausibleStartBeforeEnd" in yes and row["plausibleStartBeforeEndFieldName"]:
        end = row["plausibleStartBeforeEndFieldName"].lower()
        await run.add("plausibleStartBeforeEnd", "FIELD", table, f,
                      row["plausibleStartBeforeEndThreshold"],
                      f"SELECT count(*) FROM {t} WHERE {end} IS NOT NULL "
                      f"AND {f} > {end}")  # fmt: skip
    if "plausibleAfterBirth" in yes and table != "person":
        await run.add("plausibleAfterBirth", "FIELD", table, f, row["plausibleAfterBirthThreshold"],
                      f"SELECT count(*) FROM {t} x JOIN {{s}}.person p USING (person_id) WHERE "
                      f"x.{f} < make_date(p.year_of_birth, coalesce(p.month_of_birth, 1), "
                      "coalesce(p.day_of_birth, 1))")  # fmt: skip
    if "plausibleBeforeDeath" in yes and table != "death":
        await run.add("plausibleBeforeDeath", "FIELD", table, f,
                      row["plausibleBeforeDeathThreshold"],
                      f"SELECT count(*) FROM {t} x JOIN {{s}}.death d USING (person_id) "
                      f"WHERE x.{f} > d.death_date + 60")  # fmt: skip
    if "withinVisitDates" in yes and table in _CLINICAL_WITH_VISIT:
        await run.add("withinVisitDates", "FIELD", table, f, row["withinVisitDatesThreshold"],
                      f"SELECT count(*) FROM {t} x JOIN {{s}}.visit_occurrence v "
                      "USING (visit_occurrence_id) WHERE "
                      f"x.{f} NOT BETWEEN v.visit_start_date - 7 AND v.visit_end_date + 7",
                      denominator=await run.scalar(
                          f"SELECT count(*) FROM {t} WHERE visit_occurrence_id IS NOT NULL"
                      ))  # fmt: skip


async def _concept_checks(run: _Runner, row: dict[str, str], table: str) -> None:
    field = row["cdmFieldName"].lower()
    if field not in {c for c, _, _ in CDM_TABLES[table]}:
        return
    ids = [int(i) for i in re.findall(r"\d+", row["conceptId"])]
    if not ids:
        return
    concept = ids[0]
    t = f"{{s}}.{table}"
    of_concept = f"{field} IN ({','.join(map(str, ids))})"
    denom = await run.scalar(f"SELECT count(*) FROM {t} WHERE {of_concept}")
    if denom == 0:
        return  # DQD evaluates concept checks only for concepts present
    units = re.findall(r"\d+", row.get("unitConceptId") or "")
    unit_clause = f" AND unit_concept_id IN ({','.join(units)})" if units else ""
    for check, op in (("plausibleValueLow", "<"), ("plausibleValueHigh", ">")):
        if row[check] and table == "measurement":
            await run.add(check, "CONCEPT", table, field, row[f"{check}Threshold"],
                          f"SELECT count(*) FROM {t} WHERE {of_concept}{unit_clause} "
                          f"AND value_as_number {op} {float(row[check])}",
                          denominator=denom, concept_id=concept)  # fmt: skip
    if row["plausibleGender"]:
        gender = {"Male": 8507, "Female": 8532}[row["plausibleGender"]]
        await run.add("plausibleGender", "CONCEPT", table, field, row["plausibleGenderThreshold"],
                      f"SELECT count(*) FROM {t} x JOIN {{s}}.person p USING (person_id) "
                      f"WHERE x.{of_concept} AND p.gender_concept_id <> {gender}",
                      denominator=denom, concept_id=concept)  # fmt: skip
    if row["plausibleUnitConceptIds"] and table == "measurement":
        allowed = ",".join(str(int(u)) for u in row["plausibleUnitConceptIds"].split(",") if u)
        await run.add("plausibleUnitConceptIds", "CONCEPT", table, field,
                      row["plausibleUnitConceptIdsThreshold"],
                      f"SELECT count(*) FROM {t} WHERE {of_concept} AND "
                      f"value_as_number IS NOT NULL AND coalesce(unit_concept_id, 0) "
                      f"NOT IN ({allowed})",
                      denominator=denom, concept_id=concept)  # fmt: skip


def summary(results: list[CheckResult]) -> dict[str, Any]:
    """Pass rate overall and per Kahn category (not-applicable checks excluded)."""
    applicable = [r for r in results if r.status != "not_applicable"]
    out: dict[str, Any] = {
        "checks": len(results),
        "applicable": len(applicable),
        "passed": sum(r.status == "passed" for r in applicable),
        "failed": sum(r.status == "failed" for r in applicable),
        "not_applicable": len(results) - len(applicable),
    }
    out["pass_rate"] = round(out["passed"] / len(applicable), 4) if applicable else 1.0
    per: dict[str, list[int]] = {}
    for r in applicable:
        per.setdefault(r.category or "Other", [0, 0])[r.status == "passed"] += 1
    out["by_category"] = {k: {"passed": v[1], "failed": v[0],
                              "pass_rate": round(v[1] / (v[0] + v[1]), 4)}
                          for k, v in sorted(per.items())}  # fmt: skip
    return out


def as_json(results: list[CheckResult], *, run_date: date, schema: str) -> dict[str, Any]:
    return {
        "run_date": run_date.isoformat(),
        "schema": schema,
        "summary": summary(results),
        "results": [{**asdict(r), "pct_violated": round(100 * r.pct, 4)} for r in results],
    }


def render_html(report: dict[str, Any]) -> str:
    """A one-page report: pass rate per category, then the failed checks."""
    s = report["summary"]
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v['passed']}</td><td>{v['failed']}</td>"
        f"<td>{100 * v['pass_rate']:.1f}%</td></tr>"
        for k, v in s["by_category"].items()
    )
    failed = "".join(
        f"<tr><td>{html.escape(r['check'])}</td><td>{html.escape(r['table'])}</td>"
        f"<td>{html.escape(r['field'] or '')}</td><td>{r['concept_id'] or ''}</td>"
        f"<td>{r['violated']}/{r['denominator']}</td><td>{r['pct_violated']}%</td>"
        f"<td>{r['threshold']}%</td></tr>"
        for r in report["results"]
        if r["status"] == "failed"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Hygie OMOP data quality"
        "</title></head><body>"
        f"<h1>Data quality — {html.escape(report['run_date'])}</h1>"
        f"<p>{s['passed']} passed, {s['failed']} failed, {s['not_applicable']} not applicable;"
        f" pass rate {100 * s['pass_rate']:.1f}%</p>"
        "<table border=1><tr><th>category</th><th>passed</th><th>failed</th><th>pass rate</th>"
        f"</tr>{rows}</table><h2>Failed checks</h2><table border=1><tr><th>check</th>"
        "<th>table</th><th>field</th><th>concept</th><th>violated</th><th>%</th>"
        f"<th>threshold</th></tr>{failed}</table></body></html>"
    )
