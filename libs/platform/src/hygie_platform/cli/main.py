"""``hygie``: run the platform and operate it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from .. import kafka
from ..config import SERVICES
from ..db import service_database_name, with_database
from ..relay import republish_journal
from ..security import Role, issue_token
from .context import cli_settings, console, fail, read_state
from .dlq import dlq_topics, list_dead_letters, replay_dead_letters

app = typer.Typer(
    help="Hygie: a sovereign, data-centric hospital information platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(help="Dead-letter topics.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@app.command()
def up(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the services")] = 120,
    service: Annotated[
        list[str] | None, typer.Option("--service", "-s", help="Start only these services")
    ] = None,
) -> None:
    """Start the embedded stack: PostgreSQL, the broker and every service, until Ctrl-C."""
    from .stack import installed_services, run_stack

    if service:
        unknown = sorted(set(service) - set(installed_services()))
        if unknown:
            raise fail(
                f"--service: {', '.join(unknown)} not installed; one of "
                f"{', '.join(installed_services())}",
                2,
            )
    run_stack(cli_settings(), timeout=timeout, only=service or None)


@app.command()
def token(
    role: Annotated[list[Role], typer.Option("--role", help="Role(s) of the token")],
    user: Annotated[str, typer.Option(help="Subject (user id)")] = "dev",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 8 * 3600,
) -> None:
    """Print a token signed by the local issuer (the token alone on stdout)."""
    print(issue_token(cli_settings(), user=user, roles=[r.value for r in role], ttl_seconds=ttl))


@app.command()
def config() -> None:
    """Print the effective settings (secrets masked)."""
    print(json.dumps(cli_settings().masked(), indent=2, default=str))


def _services() -> list[str]:
    settings = cli_settings()
    running = read_state(settings.home).get("services")
    if running:
        return list(running)
    from .stack import installed_services

    return installed_services()


async def _health(url: str) -> tuple[int | None, dict[str, Any]]:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.get(f"{url}/health")
            return resp.status_code, resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        return None, {"status": "unreachable", "error": str(exc) or type(exc).__name__}


async def _dlq_counts() -> dict[str, int] | str:
    settings = cli_settings()
    try:
        letters = await asyncio.wait_for(list_dead_letters(settings), 20)
    except Exception as exc:
        return f"broker unreachable ({type(exc).__name__})"
    counts: dict[str, int] = {}
    for letter in letters:
        if not letter.replayed:
            counts[letter.topic] = counts.get(letter.topic, 0) + 1
    return counts


@app.command()
def status(
    wait: Annotated[
        bool, typer.Option("--wait", help="Block until every service is healthy")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait may take")] = 120,
) -> None:
    """Health of each service: database, broker, consumer lag, outbox backlog, dead letters."""
    settings = cli_settings()
    deadline = time.monotonic() + timeout
    while True:
        names = _services()  # re-read: `hygie up` may still be writing its state file
        results = asyncio.run(_gather_health(names))
        bad = {n: body for n, (code, body) in results.items() if code != 200}
        if not wait or not bad or time.monotonic() > deadline:
            break
        time.sleep(1)
    table = Table(title="Hygie status", title_justify="left")
    for column in (
        "service",
        "status",
        "database",
        "broker",
        "outbox",
        "consumers (lag / dead-lettered)",
    ):
        table.add_column(column)
    for name, (_, body) in results.items():
        consumers = ", ".join(
            f"{c['group']}: {c['lag']} / {c['dead_lettered']}" for c in body.get("consumers", [])
        )
        table.add_row(
            name,
            body.get("status", "?"),
            str(body.get("database", "-")),
            str(body.get("broker", "-")),
            str(body.get("outbox_backlog", "-")),
            consumers,
        )
    console.print(table)
    counts = asyncio.run(_dlq_counts())
    if isinstance(counts, str):
        console.print(f"dead letters: {counts}")
    else:
        total = sum(counts.values())
        detail = ", ".join(f"{t}: {n}" for t, n in counts.items())
        console.print(f"dead letters waiting: {total}" + (f" ({detail})" if detail else ""))
    if bad:
        reasons = "; ".join(f"{n}: {_reason(b)}" for n, b in bad.items())
        raise fail((f"not healthy after {timeout:.0f}s: " if wait else "not healthy: ") + reasons)
    _ = settings


def _reason(body: dict[str, Any]) -> str:
    if body.get("status") == "unreachable":
        return f"not answering ({body.get('error')})"
    parts = []
    if body.get("database") != "ok":
        parts.append(f"database {body.get('database')}: {body.get('database_error', '')}".strip())
    if body.get("broker") != "ok":
        err = body.get("relay", {}).get("last_error") or next(
            (c["last_error"] for c in body.get("consumers", []) if c.get("last_error")), ""
        )
        parts.append(f"broker unreachable {err}".strip())
    return ", ".join(parts) or body.get("status", "?")


async def _gather_health(names: list[str]) -> dict[str, tuple[int | None, dict[str, Any]]]:
    settings = cli_settings()
    results = await asyncio.gather(*(_health(settings.url_of(n)) for n in names))
    return dict(zip(names, results, strict=True))


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help="Service whose journal to republish")],
    topic: Annotated[str | None, typer.Option(help="Only this topic of the journal")] = None,
) -> None:
    """Republish a service's journal into its topics (consumers skip what they had)."""
    if service not in SERVICES:
        raise fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}", 2)
    settings = cli_settings()
    dsn = with_database(settings.database_url, service_database_name(settings, service))
    try:
        count = asyncio.run(republish_journal(settings, dsn, topic=topic))
    except Exception as exc:
        raise fail(f"cannot reach the journal of {service}: {exc}") from None
    console.print(
        f"{count} journal events of {service} queued for publication; its relay publishes them now."
    )


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str | None, typer.Argument(help="A .dlq topic (default: all)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include replayed records")] = False,
) -> None:
    """List dead-lettered records with the reason."""
    settings = cli_settings()
    letters = asyncio.run(list_dead_letters(settings, topic))
    table = Table(title="Dead letters", title_justify="left")
    for column in ("topic", "partition", "offset", "type", "error", "attempts", "replayed"):
        table.add_column(column)
    for d in letters:
        if d.replayed and not all_:
            continue
        table.add_row(
            d.topic,
            str(d.partition),
            str(d.offset),
            d.headers.get("ce_type", "?"),
            f"{d.headers.get('x-error-type', '')}: {d.reason}",
            d.headers.get("x-attempts", ""),
            "yes" if d.replayed else "no",
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str | None, typer.Argument(help="A .dlq topic (default: all)")] = None,
) -> None:
    """Send dead-lettered records back to their topic (after the cause was fixed)."""
    settings = cli_settings()

    async def run() -> int:
        names = [topic] if topic else await dlq_topics(settings)
        return sum([await replay_dead_letters(settings, n) for n in names])

    console.print(f"{asyncio.run(run())} records replayed.")


@app.command()
def topics() -> None:
    """List the platform's topics on the broker."""
    settings = cli_settings()

    async def run() -> list[str]:
        admin = kafka.admin_client(settings)
        await admin.start()
        try:
            return sorted(await admin.list_topics())
        finally:
            await admin.close()

    for name in asyncio.run(run()):
        print(name)


def _mount_service_commands() -> None:
    """Each installed service may add its own commands: a typer app ``app`` in
    ``hygie_<service>.cli``, mounted as ``hygie <NAME>`` (``NAME`` in that module, else the
    service name with dashes)."""
    import importlib
    import importlib.util

    # the demo hospital (libs/demo) mounts ``hygie demo`` the same way
    for service in [*SERVICES, "demo"]:
        module_name = f"hygie_{service}.cli"
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        sub = getattr(module, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=getattr(module, "NAME", service.replace("_", "-")))


_mount_service_commands()
