"""``hygie patients ...``: commands of the patient index."""

from __future__ import annotations

import asyncio
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
