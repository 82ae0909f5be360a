"""The ``hygie`` command line against a stack of its own (end-to-end tests, benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["hygie", "stack_env"]


def stack_env(home: Path, ports: Mapping[str, int]) -> dict[str, str]:
    """This process's environment without any ``HYGIE_`` setting, plus the stack's home, plain
    logs and one HTTP port per service."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYGIE_")}
    env["HYGIE_HOME"] = str(home)
    env["HYGIE_LOG_JSON"] = "false"
    for name, port in ports.items():
        env[f"HYGIE_{name.upper()}_PORT"] = str(port)
    return env


def hygie(
    *args: str, env: Mapping[str, str], timeout: float = 150
) -> subprocess.CompletedProcess[str]:
    """Run ``hygie <args>`` to its end, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "hygie_platform.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
