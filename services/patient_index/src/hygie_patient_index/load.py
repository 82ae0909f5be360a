"""``hygie patients load FILE``: bulk-load identities from an NDJSON file of FHIR Patient
resources (one per line, FHIR bulk-data format), with the rules and events of the API."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import orjson

from hygie_platform.config import Settings, load_settings
from hygie_platform.service import ServiceRuntime

from .bootstrap import SPEC
from .domain.errors import InvalidIdentity, Issue
from .domain.identity import SourceRecord
from .entrypoints.fhir.parse import parse_patient
from .service.bulk import BulkReport, load_identities, paused_gc
from .service.context import IndexContext

__all__ = ["load_file", "parse_lines"]


def parse_lines(
    lines: Iterable[bytes],
) -> tuple[list[SourceRecord], list[tuple[int, str, list[Issue]]]]:
    """Drafts of the FHIR Patients of an NDJSON stream, and the lines that are not ones."""
    with paused_gc():
        return _parse(lines)


def _parse(
    lines: Iterable[bytes],
) -> tuple[list[SourceRecord], list[tuple[int, str, list[Issue]]]]:
    drafts: list[SourceRecord] = []
    rejected: list[tuple[int, str, list[Issue]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            parsed = parse_patient(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            rejected.append((number, "", [Issue("line", "json", str(exc))]))
            continue
        except InvalidIdentity as exc:
            rejected.append((number, "", list(exc.issues)))
            continue
        if parsed.replaced_by is not None:
            issue = Issue("link", "bulk-merge", "merges are not loaded in bulk: use the API")
            rejected.append((number, str(parsed.draft.identifier), [issue]))
            continue
        drafts.append(parsed.draft)
    return drafts, rejected


async def load_file(
    path: Path, *, batch: int = 50_000, by: str = "bulk-load", settings: Settings | None = None
) -> BulkReport:
    """Load a file into the index of the configured environment (or of ``settings``)."""
    runtime = ServiceRuntime(SPEC, settings or load_settings())
    app = await runtime.prepare()
    try:
        ctx: IndexContext = app.state.patient_index
        with path.open("rb") as f:
            drafts, rejected = parse_lines(f)
        report = await load_identities(app.state.uow, ctx, drafts, by=by, batch=batch)
        report.received += len(rejected)
        report.rejected = rejected + report.rejected
        return report
    finally:
        await runtime.stop()


def print_report(report: BulkReport) -> None:
    print(json.dumps(report.as_dict(), indent=2))
    for position, ident, issues in report.rejected[:20]:
        for issue in issues:
            print(f"rejected #{position} {ident}: {issue.field}: {issue.rule}: {issue.message}")
