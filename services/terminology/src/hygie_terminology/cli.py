"""``hygie terminology ...`` (also ``python -m hygie_terminology ...``): load vocabularies
and terminology resources, list, activate and drop releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from hygie_platform.config import Settings
from hygie_platform.db import (
    asyncpg_dsn,
    create_engine,
    ensure_database,
    migrate,
    service_database_name,
    with_database,
)
from hygie_platform.uow import UnitOfWorkFactory

from .domain.errors import NotFound, ReleaseRejected, ResourcesRejected, UnsupportedRequest

NAME = "terminology"
app = typer.Typer(
    help="Terminology: OMOP vocabulary releases, FHIR resources.", no_args_is_help=True
)
load_app = typer.Typer(help="Load content.", no_args_is_help=True)
releases_app = typer.Typer(help="OMOP vocabulary releases.", no_args_is_help=True)
app.add_typer(load_app, name="load")
app.add_typer(releases_app, name="releases")
console = Console()
T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def _settings() -> Settings:
    from hygie_platform.cli.context import cli_settings

    return cli_settings()


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[tuple[UnitOfWorkFactory, str]]:
    """The service database, created and migrated if needed: a unit-of-work factory and
    the DSN bulk loads use."""
    database = service_database_name(settings, NAME)
    await ensure_database(settings, database)
    engine = create_engine(settings, database)
    try:
        await migrate(engine, service=NAME, migrations=MIGRATIONS)
        yield (
            UnitOfWorkFactory(engine, source=f"/hygie/{NAME}"),
            asyncpg_dsn(with_database(settings.database_url, database)),
        )
    finally:
        await engine.dispose()


def _run(work: Callable[[UnitOfWorkFactory, str], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _store(_settings()) as (uow, dsn):
            return await work(uow, dsn)

    try:
        return asyncio.run(main())
    except ReleaseRejected as exc:
        for problem in exc.problems:
            console.print(str(problem), highlight=False, markup=False)
        console.print(f"[bold red]rejected:[/] nothing of release {exc.release_id} is served")
        raise typer.Exit(1) from None
    except ResourcesRejected as exc:
        for line in exc.problems:
            console.print(f"error: {line}", highlight=False, markup=False)
        console.print("[bold red]rejected:[/] nothing was loaded")
        raise typer.Exit(1) from None
    except (NotFound, UnsupportedRequest) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


def _licences(flags: list[str] | None) -> list[str]:
    """Licences confirmed in configuration (``HYGIE_TERMINOLOGY_LICENCES``) or on the command
    line for this load."""
    return sorted({*_settings().terminology_licences, *(flags or ())})


class _Bars:
    """Rich progress bars: one per file (bytes streamed to COPY), steps as log lines."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def file_started(self, name: str, total_bytes: int) -> None:
        self.task = self.progress.add_task(name, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        self.progress.advance(self.task, nbytes)

    def file_done(self, name: str, rows: int) -> None:
        self.progress.update(self.task, description=f"{name} ({rows:,} rows)")

    def step(self, text: str) -> None:
        self.progress.console.print(text)


@load_app.command("omop")
def load_omop(
    directory: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Folder of Athena CSV files")
    ],
    label: Annotated[str | None, typer.Option(help="Release label (default: version)")] = None,
    accept_licence: Annotated[
        list[str] | None,
        typer.Option("--accept-licence", help="Vocabulary whose licence you hold (repeatable)"),
    ] = None,
    drop_dangling: Annotated[
        bool, typer.Option(help="Drop rows naming absent concepts (vocabulary shards)")
    ] = False,
    activate: Annotated[bool, typer.Option(help="Make it the active release")] = True,
) -> None:
    """Load an OMOP vocabulary (Athena download) as a new release."""
    from .service.loading import load_omop_release

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        result = _run(
            lambda uow, dsn: load_omop_release(
                uow=uow,
                dsn=dsn,
                directory=directory,
                label=label,
                dangling="drop" if drop_dangling else "reject",
                accepted_licences=_licences(accept_licence),
                activate=activate,
                progress=_Bars(progress),
            )
        )
    for problem in result.problems:
        console.print(str(problem), highlight=False, markup=False)
    state = "active" if result.activated else "ready"
    console.print(
        f"release {result.release_id} [bold]{result.label}[/] {state}: "
        f"{result.counts.get('concept', 0):,} concepts, "
        f"{result.counts.get('concept_relationship', 0):,} relationships, "
        f"{len(result.vocabularies)} vocabularies"
    )


@load_app.command("fhir")
def load_fhir(
    path: Annotated[Path, typer.Argument(exists=True, help="JSON resource, Bundle or folder")],
) -> None:
    """Load FHIR CodeSystem, ValueSet and ConceptMap resources (all or nothing)."""
    from .service.resources import load_fhir_resources, read_documents

    loaded = _run(lambda uow, _dsn: load_fhir_resources(uow, read_documents(path)))
    for r in loaded:
        console.print(f"{r.resource_type} {r.url}|{r.version} {r.change} ({r.count})")


@load_app.command("starter")
def load_starter(
    accept_licence: Annotated[
        list[str] | None,
        typer.Option("--accept-licence", help="Vocabulary whose licence you hold (repeatable)"),
    ] = None,
) -> None:
    """Load the starter set shipped with Hygie as a new active release."""
    from .service.starter import load_starter_set

    result = _run(
        lambda uow, dsn: load_starter_set(uow, dsn, accepted_licences=_licences(accept_licence))
    )
    console.print(
        f"release {result.release_id} {result.label} active: "
        f"{result.counts.get('concept', 0)} concepts"
    )


@releases_app.command("list")
def list_cmd() -> None:
    """Every release with its status and size."""
    from .service.releases import list_releases

    for r in _run(lambda uow, _dsn: list_releases(uow)):
        console.print(
            f"{r.id:>4}  {r.status:<10}  {r.label:<30}  "
            f"{r.counts.get('concept', 0):>10,} concepts  {r.source}",
            highlight=False,
        )


@releases_app.command("activate")
def activate_cmd(release_id: int) -> None:
    """Make a release the one answering queries (announced to consumers)."""
    from .service.releases import activate_release

    release = _run(lambda uow, _dsn: activate_release(uow, release_id))
    console.print(f"release {release.id} {release.label} is active")


@releases_app.command("drop")
def drop_cmd(release_id: int) -> None:
    """Drop a release that no longer serves (its schema is deleted)."""
    from .service.releases import drop_release

    _run(lambda uow, dsn: drop_release(uow, dsn, release_id))
    console.print(f"release {release_id} dropped")
