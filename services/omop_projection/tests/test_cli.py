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
