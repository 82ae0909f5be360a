"""The starter set (its facts checked against the conformance vocabulary, loaded at first
start) and the command line."""

from __future__ import annotations

import csv
import uuid

import asyncpg
import pytest
from typer.testing import CliRunner

from hygie_platform.db import asyncpg_dsn
from hygie_platform.testing import start_service
from hygie_terminology.bootstrap import make_spec
from hygie_terminology.cli import app
from hygie_terminology.service.starter import starter_content

from .athena_files import write_vocabulary
from .conftest import VOCAB


@pytest.mark.skipif(not VOCAB.is_dir(), reason="conformance data absent")
@pytest.mark.parametrize(
    ("key", "file"), [("concepts", "CONCEPT.csv"), ("relationships", "CONCEPT_RELATIONSHIP.csv")]
)
def test_every_starter_row_is_the_conformance_row_it_names(key, file):
    lines = (VOCAB / file).read_text(encoding="utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    rows = starter_content()[key]
    assert rows
    for row in rows:
        source = row["source"]
        assert source.startswith(f"vocab-synthea27nj/{file} line ")
        line = int(source.rsplit(" ", 1)[1])
        expected = dict(zip(header, next(csv.reader([lines[line - 1]])), strict=True))
        assert {k: v for k, v in row.items() if k != "source"} == expected


async def test_the_starter_set_is_loaded_at_first_start_without_snomed(hygie_settings):
    spec = make_spec(starter=True)
    async with start_service(spec, hygie_settings, background=False) as svc:
        rows = await svc.fetch("SELECT label, status, vocabularies FROM release")
        assert [(r["label"], r["status"]) for r in rows] == [("hygie-starter-1", "active")]
        vocabularies = {v["vocabulary_id"] for v in rows[0]["vocabularies"]}
        assert vocabularies == {"Ethnicity", "LOINC", "UCUM", "Visit"}  # SNOMED needs a licence
        r = await svc.client.post(
            "/fhir/$translate-batch",
            json={
                "codes": [
                    {"system": "http://loinc.org", "code": "8480-6"},
                    {"system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
                ]
            },
            headers=svc.auth("integration"),
        )
        assert [t["concept_id"] for x in r.json()["results"] for t in x["targets"]] == [
            3004249,
            8876,
        ]
    async with start_service(spec, hygie_settings, background=False) as svc:
        assert len(await svc.fetch("SELECT id FROM release")) == 1  # not loaded twice


def test_the_command_line_loads_and_lists_releases(hygie_infra, tmp_path, monkeypatch):
    tag = f"t{uuid.uuid4().hex[:10]}_"
    monkeypatch.setenv("HYGIE_DATABASE_URL", hygie_infra.database_url)
    monkeypatch.setenv("HYGIE_DATABASE_PREFIX", tag)
    monkeypatch.setenv("HYGIE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    try:
        loaded = runner.invoke(
            app,
            ["load", "omop", str(write_vocabulary(tmp_path / "v1")), "--accept-licence", "SNOMED"],
        )
        assert loaded.exit_code == 0, loaded.output
        assert "release 1 test-v1 active: 6 concepts" in loaded.output
        refused = runner.invoke(app, ["load", "omop", str(write_vocabulary(tmp_path / "v2"))])
        assert refused.exit_code == 1
        assert "SNOMED needs a licence" in refused.output
        monkeypatch.setenv("HYGIE_TERMINOLOGY_LICENCES", '["SNOMED"]')  # confirmed in config
        configured = runner.invoke(app, ["load", "omop", str(write_vocabulary(tmp_path / "v3"))])
        assert configured.exit_code == 0, configured.output
        listed = runner.invoke(app, ["releases", "list"])
        assert "active" in listed.output
        assert "rejected" in listed.output
    finally:
        import asyncio

        async def drop() -> None:
            conn = await asyncpg.connect(asyncpg_dsn(hygie_infra.database_url))
            try:
                for row in await conn.fetch(
                    "SELECT datname FROM pg_database WHERE datname LIKE $1", tag + "%"
                ):
                    await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(drop())
