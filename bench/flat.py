"""FLAT benchmark (issue 4): FLAT → canonical + validation of a vital-signs composition,
canonical → FLAT, and web template generation of the largest conformance OPT.

Targets: ≥ 2,000 FLAT → canonical + validation conversions/s in one process; web template
of the largest OPT < 200 ms (cached after). Raw limit, same run: ``validate`` alone on the
canonical composition (a conversion that validates cannot beat it) and ``orjson``
decode+encode of the FLAT document; figures are reported as ratios to them.

``python -m bench.flat [--events N]`` (or ``python -m bench flat`` once listed in
``bench.BENCHMARKS``). Pure CPU: no database, no broker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from . import standalone

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "openehr" / "ehrbase-integration-tests"
DEFAULT_EVENTS = 5_000
TARGETS = {"flat_to_canonical_validated_per_s": 2_000, "web_template_ms": 200.0}


def _rate(n: int, fn: Any) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def run(options: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Entry point of ``python -m bench flat``."""
    sys.path.insert(0, str(ROOT / "services" / "ehr" / "src"))
    from hygie_ehr.domain.opt import parse_opt
    from hygie_ehr.domain.validation import validate
    from hygie_ehr.webtemplate import canonical_to_flat, flat_to_canonical, web_template
    from hygie_ehr.webtemplate.builder import build_web_template

    n = options.events or DEFAULT_EVENTS
    opt = parse_opt(next(CONFORMANCE.glob("**/ehrn_vital_signs.v2.opt")).read_bytes())
    flat = json.loads(
        (CONFORMANCE / "compositions" / "FLAT" / "ehrn_vital_signs.v2__.json").read_text()
    )
    data = flat_to_canonical(opt, flat)
    correct = (
        not validate(data, opt) and flat_to_canonical(opt, canonical_to_flat(opt, data)) == data
    )
    raw = orjson.dumps(flat)
    results = {
        # the path of a FLAT commit: conversion, then validation with its issues mapped
        # back to FLAT keys (the placed-object map is built on every conversion)
        "flat_to_canonical_validated_per_s": _rate(
            n, lambda: flat_to_canonical(opt, flat, validated=True)
        ),
        "flat_to_canonical_per_s": _rate(n, lambda: flat_to_canonical(opt, flat)),
        "canonical_to_flat_per_s": _rate(n, lambda: canonical_to_flat(opt, data)),
        "raw_validate_per_s": _rate(n, lambda: validate(data, opt)),
        "raw_orjson_roundtrip_per_s": _rate(n, lambda: orjson.dumps(orjson.loads(raw))),
    }
    largest = max(
        (p for p in CONFORMANCE.glob("valid_templates/**/*.opt")), key=lambda p: p.stat().st_size
    )
    big = parse_opt(largest.read_bytes())
    start = time.perf_counter()
    build_web_template(big)
    results["web_template_ms"] = (time.perf_counter() - start) * 1000
    web_template(big)
    start = time.perf_counter()
    web_template(big)
    results["web_template_cached_ms"] = (time.perf_counter() - start) * 1000
    results["ratio_to_validate"] = (
        results["flat_to_canonical_validated_per_s"] / results["raw_validate_per_s"]
    )
    results["ratio_to_orjson"] = (
        results["flat_to_canonical_validated_per_s"] / results["raw_orjson_roundtrip_per_s"]
    )
    for name, value in results.items():
        console.print(f"{name:40} {value:12.2f}")
    try:
        from .machine import machine_info

        machine: dict[str, Any] | None = machine_info(broker="none")
    except ImportError:
        machine = None
    return {
        "benchmark": "flat",
        "conversions": n,
        "template": opt.template_id,
        "largest_template": big.template_id,
        "results": results,
        "targets": TARGETS,
        "target_met": {
            "correctness": correct,
            "conversions": results["flat_to_canonical_validated_per_s"]
            >= TARGETS["flat_to_canonical_validated_per_s"],
            "web_template": results["web_template_ms"] < TARGETS["web_template_ms"],
        },
        "machine": machine,
    }


def main() -> None:
    parser = standalone.parser("flat", __doc__)
    parser.add_argument("--events", type=int, default=None)
    standalone.main("flat", run, parser)


if __name__ == "__main__":
    main()
