"""``python -m bench [name ...] [--events N]``: run benchmarks, write bench/results/<name>.json."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from rich.console import Console

from . import BENCHMARKS
from .standalone import RESULTS, write_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="number of events (default: each benchmark's own, 200000 for bus)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="folder of the results files (default: bench/results)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="also record py-spy profiles (raw collapsed stacks) of the "
        "benchmark's processes into DIR (py-spy must be installed)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a performance target is missed (not only on errors)",
    )
    options = parser.parse_args(argv)
    unknown = [n for n in options.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r} (known: {', '.join(BENCHMARKS)})")
    console = Console()
    status = 0
    for name in options.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        console.rule(f"[bold]bench {name}")
        result = module.run(options, console)
        path = write_result(options.results, name, result)
        console.print(f"results written to [bold]{path}")
        targets = result.get("target_met", {})
        if (
            not targets.get("correctness", True)
            or result.get("error")
            or (options.strict and not all(targets.values()))
        ):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
