"""Migration 0004 recomputes the blocking keys of the records already indexed."""

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from hygie_patient_index.bootstrap import SPEC
from hygie_patient_index.testing import IPP_A, fhir_patient

VERSIONS = "alembic_version_patient_index"


def _upgrade_to_0004(connection):
    cfg = Config()
    cfg.set_main_option("script_location", str(SPEC.migrations))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = VERSIONS
    command.upgrade(cfg, "patient_index_0004")


async def test_0004_adds_the_birth_date_family_initial_key_to_existing_records(mpi):
    body = fhir_patient("M1", IPP_A, family="Garnier", given=("Louis",), birth_date="1970-03-04")
    resp = await mpi.client.put(
        f"/fhir/Patient?identifier={IPP_A}|M1", json=body, headers=mpi.auth("integration")
    )
    assert resp.status_code == 201, resp.text
    engine = mpi.runtime.engine
    # As indexed before 0004: the birth-date key with the given-name initial only.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE source_record SET block_keys = ARRAY(SELECT k FROM unnest(block_keys) k"
                " WHERE k <> 'd:1970-03-04:G')"
            )
        )
        head = (await conn.execute(text(f"SELECT version_num FROM {VERSIONS}"))).scalar_one()
        await conn.execute(text(f"UPDATE {VERSIONS} SET version_num = 'patient_index_0003'"))
    before = await mpi.fetch("SELECT block_keys FROM source_record")
    assert "d:1970-03-04:G" not in before[0]["block_keys"]
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to_0004)
        await conn.execute(text(f"UPDATE {VERSIONS} SET version_num = :v"), {"v": head})
    after = await mpi.fetch("SELECT block_keys FROM source_record")
    assert {"d:1970-03-04:G", "d:1970-03-04:L"} <= set(after[0]["block_keys"])
