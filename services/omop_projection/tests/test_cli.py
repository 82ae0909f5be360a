"""The command line on a running projection's database: explain, unmapped, export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from uuid import uuid4

from hygie_omop_projection import cli
from hygie_omop_projection.testing import blood_pressure, committed, composition, registered
from hygie_platform.testing import eventually

IPP = "urn:oid:1.2.250.1.71.4.2.7"


async def test_explain_unmapped_and_export(omop, publish, hygie_settings, monkeypatch, capsys,
                                           tmp_path: Path):  # fmt: skip
    monkeypatch.setenv("HYGIE_DATABASE_URL", hygie_settings.database_url)
    monkeypatch.setenv("HYGIE_DATABASE_PREFIX", hygie_settings.database_prefix)
    patient, ehr = uuid4(), uuid4()
    await publish(
        registered(patient, ipp="C"),
        committed(ehr, composition(blood_pressure(120, 80)), subject=(IPP, "C")),
    )
    (row,) = await eventually(
        lambda: omop.fetch("SELECT measurement_id FROM omop.measurement LIMIT 1")
    )
    capsys.readouterr()
    args = argparse.Namespace(command="explain", table="measurement", id=row["measurement_id"])
    assert await cli._run(args) == 0
    assert json.loads(capsys.readouterr().out)["ehr_id"] == str(ehr)
    assert await cli._run(argparse.Namespace(command="unmapped")) == 0
    assert await cli._run(argparse.Namespace(command="export", directory=tmp_path)) == 0
    assert (tmp_path / "measurement.csv").exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["rows"]["measurement"] == 2


async def test_parquet_export_reads_back_with_the_cdm_types(
    omop, publish, hygie_settings, monkeypatch, tmp_path: Path
):
    import pyarrow.parquet as pq

    monkeypatch.setenv("HYGIE_DATABASE_URL", hygie_settings.database_url)
    monkeypatch.setenv("HYGIE_DATABASE_PREFIX", hygie_settings.database_prefix)
    patient, ehr = uuid4(), uuid4()
    await publish(
        registered(patient, ipp="PQ"),
        committed(ehr, composition(blood_pressure(121.5, 79)), subject=(IPP, "PQ")),
    )
    await eventually(lambda: omop.fetch("SELECT 1 FROM omop.observation_period"))
    args = argparse.Namespace(command="export", directory=tmp_path, format="parquet")
    assert await cli._run(args) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format"] == "parquet"
    assert manifest["isolation"] == "repeatable read"  # every file from the same snapshot
    assert manifest["rows"]["measurement"] == 2
    table = pq.read_table(tmp_path / "measurement.parquet")
    assert table.schema.field("measurement_id").type == "int32"
    assert str(table.schema.field("measurement_date").type) == "date32[day]"
    assert str(table.schema.field("value_as_number").type) == "double"
    values = sorted(table.column("value_as_number").to_pylist())
    assert values == [79.0, 121.5]
    person = pq.read_table(tmp_path / "person.parquet").to_pylist()
    assert [p["year_of_birth"] for p in person] == [1970]
    assert pq.read_table(tmp_path / "death.parquet").num_rows == 0  # empty tables are written too
    concepts = pq.read_table(tmp_path / "measurement.parquet").column("measurement_concept_id")
    assert set(concepts.to_pylist()) == {3004249, 3012888}
    assert await cli._run(argparse.Namespace(command="export", directory=tmp_path / "c")) == 0
    assert (tmp_path / "c" / "measurement.csv").exists()


async def test_dq_without_the_definition_files_says_where_they_come_from(tmp_path, capsys):
    args = argparse.Namespace(command="dq", definitions=tmp_path, run_date=None, out=tmp_path)
    assert await cli._run(args) == 2
    err = capsys.readouterr().err
    assert "OMOP_CDMv5.4_Field_Level.csv" in err
    assert "--definitions" in err
