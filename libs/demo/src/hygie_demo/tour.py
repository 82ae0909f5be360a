"""The guided tour: copy-paste commands over the demo hospital's data. ``hygie demo
--tour`` prints it with the ids of the last run; the README shows the same text with
example values (``python -m hygie_demo.tour`` prints that version)."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

from hygie_platform.config import Settings

__all__ = ["TOUR", "render_tour"]

#: the tour; ``{...}`` are filled from the last run's report (``{{`` is a literal brace)
TOUR = r"""# Hygie tour — the demo hospital
# Run each block in a shell at the repository root while `make run` is up.
# (`hygie` is `uv run hygie` or `.venv/bin/hygie`.)

export EHR={ehr}/openehr/v1 MPI={mpi}/fhir TERM={term}/fhir AUDIT={audit} OMOP={omop}
export TOKEN=$(hygie token --role clinician --user dr.martin)
export ADMIN=$(hygie token --role admin --user idv.desk)
H="Authorization: Bearer $TOKEN"; A="Authorization: Bearer $ADMIN"
export IPP_SYSTEM={ipp_system} IPP={ipp}     # {patient_name}, {patient_site}
export FAMILY={family_q} BIRTHDATE={birth_date}
export EHR_ID=$(curl -s "$EHR/ehr?subject_id=$IPP&subject_namespace=$IPP_SYSTEM" -H "$H" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["ehr_id"]["value"])')   # {ehr_id}
export OMOP_DB={omop_dsn}
T=.hygie/tour; mkdir -p $T                      # files the tour writes

## 1. openEHR: create an EHR, commit a composition (canonical, then FLAT)
NEW=$(curl -s -X POST $EHR/ehr -H "$H" -H "Prefer: return=representation" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ehr_id"]["value"])')
curl -s $EHR/definition/template/adl1.4 -H "$H"            # the five templates the demo uploaded
curl -s "$EHR/definition/template/adl1.4/hygie.vital_signs.v1/example" -H "$H" > $T/vitals.json
curl -s -X POST $EHR/ehr/$NEW/composition -H "$H" -H "Content-Type: application/json" \
     -H "Prefer: return=representation" --data @$T/vitals.json | head -c 400; echo
curl -s "$EHR/definition/template/adl1.4/hygie.vital_signs.v1/example?format=FLAT" -H "$H" > $T/vitals.flat.json
curl -s -X POST "$EHR/ehr/$NEW/composition?templateId=hygie.vital_signs.v1" -H "$H" \
     -H "Content-Type: application/openehr.wt.flat+json" --data @$T/vitals.flat.json -i | head -n 1

## 2. AQL: the latest vital signs of one patient
curl -s -X POST $EHR/query/aql -H "$H" -H "Content-Type: application/json" -d '{{"q":
 "SELECT c/context/start_time/value AS time, o/data[at0001]/events[at0006]/data[at0003]/items[at0004]/value/magnitude AS systolic, o/data[at0001]/events[at0006]/data[at0003]/items[at0005]/value/magnitude AS diastolic FROM EHR e CONTAINS COMPOSITION c CONTAINS OBSERVATION o[openEHR-EHR-OBSERVATION.blood_pressure.v2] WHERE e/ehr_id/value = $ehr_id ORDER BY c/context/start_time/value DESC LIMIT 1",
 "query_parameters": {{"ehr_id": "'$EHR_ID'"}}}}'
#    ... and every patient with a systolic pressure above 140 mmHg during the last week
curl -s -X POST $EHR/query/aql -H "$H" -H "Content-Type: application/json" -d '{{"q":
 "SELECT DISTINCT e/ehr_status/subject/external_ref/id/value AS ipp, e/ehr_id/value AS ehr_id FROM EHR e CONTAINS OBSERVATION o[openEHR-EHR-OBSERVATION.blood_pressure.v2] WHERE o/data[at0001]/events[at0006]/data[at0003]/items[at0004]/value/magnitude > 140 AND o/data[at0001]/events[at0006]/time/value >= $since",
 "query_parameters": {{"since": "{week_ago}"}}}}'

## 3. FHIR: find the patient (PDQm), resolve their identifiers (PIXm)
curl -s "$MPI/Patient?family=$FAMILY&birthdate=$BIRTHDATE" -H "$H"
curl -s "$MPI/Patient/\$ihe-pix?sourceIdentifier=$IPP_SYSTEM|$IPP" -H "$H"

## 4. Identity vigilance: duplicates and the review queue
#    one person registered twice: {duplicate_names} ({duplicate_error});
#    PIXm lists both IPPs once the index has linked them
curl -s "$MPI/Patient/\$ihe-pix?sourceIdentifier={duplicate_pix}" -H "$H"
#    what the index could not decide alone (e.g. twins: {twin_names}):
curl -s "$MPI/review-items" -H "$A"
#    decide one (its id from the list): link, or not-a-match for twins
#    curl -s -X POST $MPI/review-items/<id>/resolve -H "$A" -H "Content-Type: application/json" \
#         -d '{{"resolution": "not-a-match", "comment": "twins, checked with the family"}}'

## 5. Terminology: look up and translate a code
curl -s "$TERM/CodeSystem/\$lookup?system=http://loinc.org&code=8480-6" -H "$H"
curl -s "$TERM/ConceptMap/\$translate?system=http://loinc.org&code=8480-6&targetsystem=https://fhir-terminology.ohdsi.org" -H "$H"

## 6. OMOP: read the research view with SQL as an analyst, export it, check its quality
psql "$OMOP_DB" -c "SET ROLE hygie_analyst;
  SELECT m.measurement_source_value, count(*), round(avg(m.value_as_number), 1)
  FROM omop.measurement m GROUP BY 1 ORDER BY 2 DESC;"
psql "$OMOP_DB" -c "SET ROLE hygie_analyst; SELECT count(*) FROM omop.person;
  SELECT condition_source_value, count(*) FROM omop.condition_occurrence GROUP BY 1 ORDER BY 2 DESC LIMIT 5;"
hygie omop export --format parquet $T/omop/          # one Parquet file per table + manifest
# DQD checks (dq.html, dq.json); the check definitions are the OHDSI DataQualityDashboard's
# inst/csv files: add --definitions DIR when they are not at the default path
hygie omop dq --run-date {today} --out $T/dq/
hygie omop unmapped                                  # codes without a standard concept

## 7. Audit: verify the log, then who looked at this patient's record
hygie audit verify
curl -s "$AUDIT/audit/patients/$IPP_SYSTEM%7C$IPP/access-report" -H "$A"

## 8. Where the broken input went (none lost, none blocking)
{broken}
hygie dlq list                                       # the refused identity-feed record, with its reason
curl -s "$OMOP/omop/unmapped" -H "$A"                # the unknown diagnosis code
"""  # noqa: E501 - shell commands are copied whole


def render_tour(settings: Settings, report: dict[str, Any] | None, *, readme: bool = False) -> str:
    """The tour with the ids of ``report`` (the last run), or example values; ``readme``:
    the database address as a placeholder (its port is chosen at start)."""
    from hygie_platform.db import service_database_name, with_database

    if report is None:  # what `hygie demo` with its defaults records first
        from .hospital import make_plan, until_of
        from .runner import examples, registration_summary

        plan = make_plan(patients=100, days=7, seed=1, until=until_of(datetime.now(UTC).date()))
        report = {
            "examples": {**examples(plan), "patient": registration_summary(plan.registrations[0])}
        }
    examples_ = report.get("examples", {})
    patient = examples_["patient"]
    duplicate = examples_.get("duplicate") or []
    broken = report.get("broken") or []
    broken_lines = (
        "\n".join(
            f"#  - {b['kind']}: {b['what']}\n#    → {b['where']}"
            + (f"\n#    reason: {b['detail'][:300]}" if b.get("detail") else "")
            for b in broken
        )
        or "#  (run `hygie demo` first: it sends an invalid NIR, a composition outside its "
        "template\n#   and an unknown code)"
    )
    now = datetime.now(UTC)
    dsn = with_database(settings.database_url, service_database_name(settings, "omop_projection"))
    if readme:
        dsn = "postgresql://postgres@127.0.0.1:PORT/hygie_omop_projection  # PORT: see hygie up"
    return TOUR.format(
        ehr=settings.url_of("ehr"),
        mpi=settings.url_of("patient_index"),
        term=settings.url_of("terminology"),
        audit=settings.url_of("audit"),
        omop=settings.url_of("omop_projection"),
        ehr_id=patient["ehr_id"],
        patient_name=f"{patient['given']} {patient['family']}",
        patient_site=patient["site"],
        ipp_system=patient["system"],
        ipp=patient["ipp"],
        family_q=shlex.quote(patient["family"]),
        birth_date=patient["birth_date"],
        week_ago=(now - timedelta(days=7)).strftime("%Y-%m-%dT00:00:00Z"),
        duplicate_error=examples_.get("duplicate_error") or "registration error",
        duplicate_pix=f"{duplicate[0]['system']}|{duplicate[0]['ipp']}"
        if duplicate
        else "$IPP_SYSTEM|$IPP",
        twin_names=" / ".join(
            f"{d['given']} {d['birth_family']} ({d['ipp']})" for d in examples_.get("twins") or []
        )
        or "none in this run",
        duplicate_names=" / ".join(
            f"{d['given']} {d['birth_family']} ({d['ipp']})" for d in duplicate
        )
        or "see the review queue",
        today=now.date().isoformat(),
        omop_dsn=dsn if readme else shlex.quote(dsn),
        broken=broken_lines,
    )


if __name__ == "__main__":
    from hygie_platform.config import load_settings

    print(render_tour(load_settings(), None, readme=True))
