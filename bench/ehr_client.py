"""A minimal HTTP/1.1 keep-alive client for the EHR benchmark's timed loops.

httpx costs the bench process ~2.5 ms of CPU per request (measured: 0.25 core at 100
commits/s), as much as the service spends on a validated commit, on the same 2 cores. This
client writes the request bytes and reads the status, headers and ``Content-Length`` (or
chunked) body itself, so that the machine's CPU goes to the service under test. Set-up
calls keep using httpx.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["RawHttp"]

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawHttp:
    """Up to ``size`` keep-alive connections to ``host:port``; ``headers`` on every request."""

    def __init__(self, host: str, port: int, headers: dict[str, str], size: int) -> None:
        self.host, self.port = host, port
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(size)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """(status, body); status 0 when the connection failed (counted as an error)."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            try:
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port)
                status, data, keep = await self._exchange(conn, method, path, body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                if conn is not None:
                    conn[1].close()
                return 0, b""
            if keep:
                self._idle.append(conn)
            else:
                conn[1].close()
            return status, data

    async def _exchange(
        self, conn: _Conn, method: str, path: str, body: bytes
    ) -> tuple[int, bytes, bool]:
        reader, writer = conn
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._fixed}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            data = b"".join(chunks)
        else:
            data = await reader.readexactly(int(headers.get("content-length", "0")))
        return status, data, headers.get("connection", "").lower() != "close"

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self._idle.clear()
