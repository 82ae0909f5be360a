"""``hygie patients ...``: commands of the patient index."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from .train import _main as _train

NAME = "patients"
app = typer.Typer(help="Patient index (master patient index).", no_args_is_help=True)


@app.command()
def train(
    sample: Annotated[int, typer.Option(help="Candidate pairs sampled for EM")] = 2000,
) -> None:
    """Estimate the match model by EM from the index's records (used at next start)."""
    asyncio.run(_train(sample))


@app.command()
def load(
    file: Annotated[Path, typer.Argument(help="NDJSON file of FHIR Patient resources")],
    batch: Annotated[int, typer.Option(help="Records per transaction")] = 25_000,
) -> None:
    """Bulk-load identities (same rules and events as the API): COPY + set-based matching."""
    from .load import load_file, print_report

    report = asyncio.run(load_file(file, batch=batch))
    print_report(report)
    if report.rejected:
        raise typer.Exit(1)
