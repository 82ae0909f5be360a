"""``python -m bench.<name>``: one benchmark on its own, with its own options; results
written where ``python -m bench`` writes them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

RESULTS = Path(__file__).parent / "results"


def write_result(results: Path, name: str, result: dict[str, Any]) -> Path:
    """Write ``<results>/<name>.json`` and return its path."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The benchmark's own argument parser, ``--results`` included."""
    options = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc)
    options.add_argument("--results", type=Path, default=RESULTS)
    return options


def main(
    name: str,
    run: Callable[[argparse.Namespace, Console], dict[str, Any]],
    options: argparse.ArgumentParser,
) -> None:
    """Parse the options, run the benchmark, write its results."""
    parsed = options.parse_args()
    write_result(parsed.results, name, run(parsed, Console()))
