"""Settings as the command line sees them: the environment, completed by the state file
that ``hygie up`` writes (addresses of the embedded PostgreSQL and broker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ..config import ConfigError, Settings, load_settings

__all__ = ["STATE_FILE", "cli_settings", "console", "err_console", "fail", "read_state"]

STATE_FILE = "stack.json"
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line on stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def read_state(home: Path) -> dict[str, Any]:
    path = home / STATE_FILE
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {}


def quiet_clients() -> None:
    """Client libraries log their retries; the command line says what matters itself."""
    import logging

    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def cli_settings() -> Settings:
    """The effective settings; addresses of a running embedded stack fill what the
    environment leaves unset."""
    quiet_clients()
    try:
        return load_settings()
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
