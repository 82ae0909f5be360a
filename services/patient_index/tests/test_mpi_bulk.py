"""Bulk load (``hygie patients load``): the rules and events of the API, set-based."""

from datetime import date

import orjson

from hygie_patient_index.domain.identity import Sex
from hygie_patient_index.load import parse_lines
from hygie_patient_index.service.bulk import load_identities
from hygie_patient_index.service.identity import record_identity
from hygie_patient_index.synthetic import FrenchPopulation, fhir_patient
from hygie_patient_index.testing import IPP_A, record


def _clusters(rows):
    by = {}
    for r in rows:
        by.setdefault(r["golden_id"], set()).add(r["value"])
    return list(by.values())


def _pairs(clusters):
    return {tuple(sorted((a, b))) for c in clusters for a in c for b in c if a < b}


async def test_bulk_load_links_like_one_by_one_registration(mpi):
    data = FrenchPopulation(seed=5).dataset(persons=150)
    ctx = mpi.runtime.app.state.patient_index
    lines = [orjson.dumps(fhir_patient(r)) for r in data.records]
    drafts, unparsed = parse_lines([*lines, b"{not json", b'{"resourceType": "Observation"}'])
    assert len(unparsed) == 2
    assert len(drafts) == len(data.records)
    bad = record("BAD1", birth_date=date(1700, 1, 1))
    report = await load_identities(mpi.runtime.app.state.uow, ctx, [*drafts, bad], by="t", batch=97)
    assert [r[1] for r in report.rejected] == [f"{IPP_A}|BAD1"]
    assert report.created == len(drafts)
    rows = await mpi.fetch("SELECT golden_id, value FROM source_record")
    assert len(rows) == len(drafts)  # the invalid record is not stored
    bulk_pairs = _pairs(_clusters(rows))
    truth = data.true_pairs()
    assert len(bulk_pairs & truth) >= 0.9 * len(truth)
    assert len(bulk_pairs - truth) <= 0.02 * len(bulk_pairs)
    journal = await mpi.fetch("SELECT event_type, count(*) AS n FROM journal GROUP BY 1")
    counts = {r["event_type"].split(".")[3]: r["n"] for r in journal}
    goldens = await mpi.fetch("SELECT count(*) AS n FROM golden_record")
    assert counts["registered"] == goldens[0]["n"] == report.new_patients
    assert counts["linked"] == len(drafts)
    assert counts["updated"] > 0  # batches linked into patients of earlier batches
    snapshots = await mpi.fetch(
        "SELECT g.snapshot->'source_ids' AS ids, array_agg(s.id::text) AS sources "
        "FROM golden_record g JOIN source_record s ON s.golden_id = g.id GROUP BY g.id"
    )
    assert all(sorted(r["ids"]) == sorted(r["sources"]) for r in snapshots)
    reviews = await mpi.fetch("SELECT count(*) AS n FROM review_item")
    assert counts.get("review_requested", 0) == reviews[0]["n"] == report.reviews
    # Analyzed after the load: the online match plans on the table as it now is.
    stats = await mpi.fetch("SELECT reltuples FROM pg_class WHERE relname = 'source_record'")
    assert stats[0]["reltuples"] == len(drafts)


async def test_bulk_load_updates_a_bound_identifier_and_links_to_the_index(mpi):
    ctx = mpi.runtime.app.state.patient_index
    async with mpi.runtime.app.state.uow() as uow:
        first = await record_identity(uow, ctx, record("A1"), by="t")
    renamed = record("A1", birth_family_name="Dupont-Durand")
    same_person = record("B1", system="urn:oid:1.2.250.1.999.2.1")
    report = await load_identities(mpi.runtime.app.state.uow, ctx, [renamed, same_person], by="t")
    assert (report.updated, report.created, report.linked) == (1, 1, 1)
    rows = await mpi.fetch("SELECT value, golden_id, version FROM source_record ORDER BY value")
    assert [(r["value"], r["version"]) for r in rows] == [("A1", 2), ("B1", 1)]
    assert {r["golden_id"] for r in rows} == {first.golden.id}


async def test_load_command_reads_an_ndjson_file_and_reports_bad_lines(hygie_settings, tmp_path):
    from hygie_patient_index.load import load_file
    from hygie_patient_index.testing import fhir_patient as patient

    path = tmp_path / "patients.ndjson"
    bad_date = patient("A3", birth_date="1985-13-01")
    other = patient("A2", family="Martin", given=("Paul",), gender="male", birth_date="1950-01-02")
    lines = [patient("A1"), other, bad_date]
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n\n")
    report = await load_file(path, settings=hygie_settings, batch=2)
    assert (report.received, report.created, report.new_patients) == (3, 2, 2)
    assert [(n, issues[0].rule) for n, _, issues in report.rejected] == [(3, "date-format")]


async def _partition_and_reviews(mpi):
    rows = await mpi.fetch("SELECT golden_id, value FROM source_record")
    reviews = await mpi.fetch(
        "SELECT s.value, r.reason, r.candidate_id IS NOT NULL AS c, round(r.score::numeric, 6) AS w"
        " FROM review_item r JOIN source_record s ON s.id = r.source_id"
    )
    partition = {frozenset(c) for c in _clusters(rows)}
    return partition, {(r["value"], r["reason"], r["w"]) for r in reviews}


async def test_bulk_load_decides_as_one_by_one_registration(mpi, hygie_settings):
    """The same records, loaded in batches or registered one by one, give the same
    patients and the same review items (same reason, same score)."""
    from hygie_patient_index.bootstrap import SPEC
    from hygie_platform.testing import start_service

    data = FrenchPopulation(seed=11).dataset(persons=220)
    drafts, _ = parse_lines([orjson.dumps(fhir_patient(r)) for r in data.records])
    ctx = mpi.runtime.app.state.patient_index
    await load_identities(mpi.runtime.app.state.uow, ctx, drafts, by="t", batch=61)
    bulk = await _partition_and_reviews(mpi)
    # A second index in a database of its own (same prefix: dropped after the test).
    other = hygie_settings.model_copy(
        update={"database_prefix": f"{hygie_settings.database_prefix}one_"}
    )
    async with start_service(SPEC, other, background=False) as one:
        one_ctx = one.runtime.app.state.patient_index
        for draft in drafts:
            async with one.runtime.app.state.uow() as uow:
                await record_identity(uow, one_ctx, draft, by="t")
        single = await _partition_and_reviews(one)
    assert sum(len(c) > 1 for c in bulk[0]) > 50  # enough links for the check to mean something
    assert bulk[1]  # and review items
    assert bulk == single


async def test_bulk_load_reads_back_a_record_updated_by_an_earlier_batch(mpi):
    """A record of the load, updated later in the same load, is matched with its new
    traits (the load's own copy of the old version is not used)."""
    ctx = mpi.runtime.app.state.patient_index
    new_traits = {
        "birth_family_name": "Lefebvre",
        "birth_given_names": ("Paul",),
        "sex": Sex.MALE,
        "birth_date": date(1961, 3, 9),
        "birth_place_code": "69123",
    }
    drafts = [
        record("A1"),
        record("A2", birth_family_name="Garnier", birth_date=date(1990, 1, 2)),
        record("A1", **new_traits),  # second batch: an update of A1
        record("B1", system="urn:oid:1.2.250.1.999.2.1", **new_traits),  # third batch
        record("B2", system="urn:oid:1.2.250.1.999.2.1"),  # A1 as it was: no longer there
    ]
    report = await load_identities(mpi.runtime.app.state.uow, ctx, drafts, by="t", batch=1)
    assert (report.created, report.updated) == (4, 1)
    rows = await mpi.fetch("SELECT value, golden_id FROM source_record")
    golden = {r["value"]: r["golden_id"] for r in rows}
    assert golden["B1"] == golden["A1"] != golden["A2"]
    assert golden["B2"] not in (golden["A1"], golden["A2"])
