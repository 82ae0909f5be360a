"""``hygie demo``: a synthetic French hospital on the running platform, and the tour."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, date, datetime
from typing import Annotated

import httpx
import typer
from rich.console import Console

from .hospital import make_plan, until_of

log = logging.getLogger(__name__)

__all__ = ["NAME", "app"]

NAME = "demo"
app = typer.Typer(
    help="A synthetic French hospital driven through Hygie's public interfaces, and the tour.",
    invoke_without_command=True,
)
console = Console()


@app.callback()
def demo(
    ctx: typer.Context,
    patients: Annotated[int, typer.Option(min=1, help="Patients admitted")] = 100,
    days: Annotated[int, typer.Option(min=1, help="Days of hospital activity")] = 7,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same hospital")] = 1,
    until: Annotated[
        str | None,
        typer.Option(help="Last day (YYYY-MM-DD, default today): data ends at its 00:00 UTC"),
    ] = None,
    tour: Annotated[
        bool, typer.Option("--tour", help="Print the guided tour with the last run's live ids")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until OMOP and audit have caught up")
    ] = True,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight")] = 12,
    wait_timeout: Annotated[float, typer.Option(help="Seconds --wait may take")] = 900,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch/--one-by-one",
            help="Commit each stay's documents as one openEHR CONTRIBUTION, or one by one",
        ),
    ] = True,
) -> None:
    """Admit patients at two sites, record their stays, send some broken input, report."""
    if ctx.invoked_subcommand:
        return
    from hygie_platform.cli.context import cli_settings, fail

    from .runner import report_path, run_demo, wait_caught_up, write_report
    from .tour import render_tour

    settings = cli_settings()
    if tour:
        path = report_path(settings)
        report = json.loads(path.read_text()) if path.exists() else None
        if report is None:
            console.print(
                "[yellow]No demo run yet: `hygie demo` first; ids below are placeholders.[/]"
            )
        print(render_tour(settings, report))
        return
    try:
        last = date.fromisoformat(until) if until else datetime.now(UTC).date()
    except ValueError:
        raise fail(f"--until: {until!r} is not a date (YYYY-MM-DD)", 2) from None
    plan = make_plan(patients=patients, days=days, seed=seed, until=until_of(last))
    console.print(
        f"Demo hospital: {len(plan.persons)} patients, {len(plan.registrations)} registrations "
        f"at 2 sites, {len(plan.stays)} stays over {days} days until "
        f"{plan.until:%Y-%m-%d} (seed {seed})."
    )
    started = time.monotonic()
    try:
        report = asyncio.run(
            run_demo(settings, plan, concurrency=concurrency, console=console, batch=batch)
        )
    except Exception as exc:  # the platform is not there, or answered what we cannot use
        where = ""
        if isinstance(exc, httpx.RequestError):  # which call: a dropped connection says nothing
            where = f" ({exc.request.method} {exc.request.url})"
        log.debug("demo stopped", exc_info=True)
        raise fail(f"demo stopped: {type(exc).__name__}: {exc}{where}") from None
    if wait:
        with console.status("waiting for OMOP and the audit log to catch up..."):
            report.catch_up = asyncio.run(
                wait_caught_up(settings, started=started, timeout=wait_timeout)
            )
    path = write_report(settings, report)
    _summary(report.as_dict())
    console.print(
        f"Report: {path}. Next: [bold]hygie demo --tour[/] (copy-paste commands with these ids)."
    )


def _summary(report: dict[str, object]) -> None:
    created = report["created"]
    existing = report["existing"]
    refused = report["refused"]
    console.print(
        f"{report['writes']} writes in {report['seconds']} s ({report['writes_per_second']}/s); "
        f"created {json.dumps(created)}; already there {json.dumps(existing)}"
    )
    if refused:
        console.print(f"[red]refused[/] {json.dumps(refused, ensure_ascii=False)[:800]}")
    for item in report.get("broken", []):  # type: ignore[attr-defined]
        console.print(f"broken input [bold]{item['kind']}[/]: {item['where']}")
    catch_up = report.get("catch_up")
    if catch_up:
        console.print(f"caught up: {json.dumps(catch_up)}")
