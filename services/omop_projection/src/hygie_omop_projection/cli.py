"""``python -m hygie_omop_projection.cli``: analysts' and operators' commands on the
projection database (what ``hygie omop ...`` is meant to call).

    dq --run-date 2025-01-01 --definitions DIR --out DIR   DQD checks: dq.json + dq.html
    export [--format csv|parquet] DIR                      snapshot of every table
    explain TABLE ID                                       lineage of one OMOP row
    unmapped                                               unmapped codes, most frequent first
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import text

from hygie_platform.config import load_settings
from hygie_platform.db import create_engine, service_database_name

from .adapters.cdm import PRIMARY_KEYS
from .service.dq import as_json, render_html, run_checks
from .service.export import export_snapshot

__all__ = ["main"]


async def _serving(conn) -> str:  # type: ignore[no-untyped-def]
    found = (
        await conn.execute(text("SELECT schema_name FROM omop_generation WHERE state = 'serving'"))
    ).scalar_one_or_none()
    if found is None:
        raise SystemExit("the projection has no serving generation (is the service started?)")
    return str(found)


DQD_FILES = (
    "OMOP_CDMv5.4_Check_Descriptions.csv",
    "OMOP_CDMv5.4_Field_Level.csv",
    "OMOP_CDMv5.4_Concept_Level.csv",
)


def _missing_definitions(definitions: Path) -> str | None:
    """Why the DQD definition files cannot be read, or None."""
    missing = [name for name in DQD_FILES if not (definitions / name).is_file()]
    if not missing:
        return None
    return (
        f"DQD 5.4 definition files not found in {definitions} ({', '.join(missing)}): they are "
        "the OHDSI DataQualityDashboard's inst/csv files (Apache-2.0); pass their folder "
        "with --definitions DIR"
    )


async def _run(args: argparse.Namespace) -> int:
    if args.command == "dq" and (why := _missing_definitions(args.definitions)):
        print(why, file=sys.stderr)
        return 2
    settings = load_settings()
    engine = create_engine(settings, service_database_name(settings, "omop_projection"))
    try:
        async with engine.connect() as conn:
            schema = await _serving(conn)
            if args.command == "dq":
                results = await run_checks(conn, schema, args.definitions, run_date=args.run_date)
                report = as_json(results, run_date=args.run_date, schema=schema)
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / "dq.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
                (args.out / "dq.html").write_text(render_html(report), encoding="utf-8")
                print(json.dumps(report["summary"], indent=2))
                return 0
            if args.command == "explain":
                if args.table not in PRIMARY_KEYS:
                    raise SystemExit(f"unknown table {args.table}")
                row = (
                    await conn.execute(
                        text(
                            f"SELECT * FROM {schema}.lineage "
                            "WHERE omop_table = :t AND omop_id = :i"
                        ),
                        {"t": args.table, "i": args.id},
                    )
                ).mappings().first()  # fmt: skip
                if row is None:
                    print(f"no lineage for {args.table} {args.id}", file=sys.stderr)
                    return 1
                print(json.dumps({k: str(v) for k, v in row.items()}, indent=2))
                return 0
            if args.command == "unmapped":
                rows = await conn.execute(
                    text(
                        f"SELECT kind, archetype_id, system, code, count(*) AS n FROM "
                        f"{schema}.problem GROUP BY 1, 2, 3, 4 ORDER BY n DESC"
                    )
                )
                for r in rows.mappings():
                    code = f"{r['system']}::{r['code']}"
                    print(f"{r['n']:>8}  {r['kind']}  {code}  {r['archetype_id']}")
                return 0
        if args.command == "export":
            fmt = getattr(args, "format", "csv")
            manifest = await export_snapshot(engine, schema, args.directory, fmt=fmt)
            print(json.dumps(manifest, indent=2))
            return 0
    finally:
        await engine.dispose()
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hygie_omop_projection.cli", description=__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dq = sub.add_parser("dq", help="run the DQD checks")
    dq.add_argument("--run-date", type=date.fromisoformat, required=True)
    dq.add_argument("--definitions", type=Path, default=Path("../shared/conformance/omop/dqd"))
    dq.add_argument("--out", type=Path, default=Path("dq"))
    export = sub.add_parser("export", help="snapshot of every OMOP table (CSV or Parquet)")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    export.add_argument("directory", type=Path)
    explain = sub.add_parser("explain", help="lineage of one OMOP row")
    explain.add_argument("table")
    explain.add_argument("id", type=int)
    sub.add_parser("unmapped", help="unmapped codes")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args))


# ``hygie omop ...``: the same commands, mounted into the platform's command line.
NAME = "omop"
app = typer.Typer(
    help="OMOP projection: data quality, export, lineage, unmapped codes.", no_args_is_help=True
)


@app.command("dq")
def dq_command(
    run_date: Annotated[str, typer.Option(help="Run date of the checks (YYYY-MM-DD)")],
    definitions: Annotated[Path, typer.Option(help="DQD 5.4 definition files")] = Path(
        "../shared/conformance/omop/dqd"
    ),
    out: Annotated[Path, typer.Option(help="Folder for dq.json and dq.html")] = Path("dq"),
) -> None:
    """Run the data-quality checks on the serving generation."""
    argv = ["dq", "--run-date", run_date, "--definitions", str(definitions), "--out", str(out)]
    raise typer.Exit(main(argv))


@app.command("export")
def export_command(
    directory: Path,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
) -> None:
    """One file per OMOP table (CSV or Parquet), from one consistent snapshot."""
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"unknown format {fmt!r}: csv or parquet", param_hint="--format")
    raise typer.Exit(main(["export", "--format", fmt, str(directory)]))


@app.command("explain")
def explain_command(table: str, row_id: int) -> None:
    """Lineage of one OMOP row: the clinical record it came from."""
    raise typer.Exit(main(["explain", table, str(row_id)]))


@app.command("unmapped")
def unmapped_command() -> None:
    """Codes without a standard concept, most frequent first."""
    raise typer.Exit(main(["unmapped"]))


if __name__ == "__main__":
    raise SystemExit(main())
