"""The status load client, a process of its own (`python -m bench.load`): CLIENTS concurrent
clients read claim statuses for a warm-up, then for a measured window; prints one JSON line
(requests, errors, seconds, p50_ms, p99_ms).

`http` mode is a lean HTTP/1.1 keep-alive client on asyncio streams (one connection per client, a
GET with the API key, the answer read by its Content-Length), so the client spends little of the
CPU it shares with the server. `query` mode asks Temporal (`handle.query("status")`) through the
service's own client and data converter.

python -m bench.load http URL KEY IDS_FILE CLIENTS WARMUP SECONDS
python -m bench.load query - - IDS_FILE CLIENTS WARMUP SECONDS   (IDS_FILE: workflow ids)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from connections import connect_temporal
from domain.names import Query
from settings import get_settings

# How long requests still waiting at the end of the window may take to finish.
DRAIN_SECONDS = 15.0

# One client's next read (True: answered as expected); a client's reader by its offset.
Reader = Callable[[], Awaitable[bool]]
Readers = Callable[[int], Reader]


@dataclass
class Window:
    start: float
    end: float
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def record(self, began: float, ended: float, ok: bool) -> None:
        if self.start <= ended < self.end:
            self.requests += 1
            self.errors += not ok
            self.latencies.append(ended - began)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.end - self.start,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
        }


# --- http -----------------------------------------------------------------------------------


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> int:
        """Send one request, read the whole answer; its status code."""
        try:
            return await self._get(request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self._drop()
            raise

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _get(self, request: bytes) -> int:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
        }
        if b"content-length" in headers:
            await reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        if headers.get(b"connection") == b"close":
            self._drop()
        return status


def http_reader(url: str, key: str, ids: list[str]) -> Readers:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    def client(offset: int) -> Reader:
        connection = HttpConnection(host, port)
        requests = [
            f"GET /v1/claims/{claim_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\n\r\n".encode()
            for claim_id in ids
        ]
        position = offset

        async def read() -> bool:
            nonlocal position
            position += 1
            return await connection.get(requests[position % len(requests)]) == 200

        return read

    return client


# --- query ----------------------------------------------------------------------------------


async def query_reader(workflow_ids: list[str]) -> Readers:
    client = await connect_temporal(get_settings())
    handles = [client.get_workflow_handle(workflow_id) for workflow_id in workflow_ids]

    def reader(offset: int) -> Reader:
        position = offset

        async def read() -> bool:
            nonlocal position
            position += 1
            await handles[position % len(handles)].query(Query.CLAIM_STATUS)
            return True

        return read

    return reader


# --- the run --------------------------------------------------------------------------------


async def load(make: Readers, clients: int, warmup: float, seconds: float) -> dict[str, float]:
    began = time.monotonic()
    window = Window(start=began + warmup, end=began + warmup + seconds)

    async def run(read: Reader) -> None:
        while time.monotonic() < window.end:
            started = time.monotonic()
            try:
                ok = await read()
            except Exception:
                ok = False
            window.record(started, time.monotonic(), ok)

    # Each client starts at its own place in the list: the claims are read evenly.
    tasks = [asyncio.create_task(run(make(n * 7919))) for n in range(clients)]
    # Answers after the window are not counted, but the requests are let finish (for a while),
    # so that the next run does not start with this one's still queued at the server.
    _, late = await asyncio.wait(tasks, timeout=window.end - time.monotonic() + DRAIN_SECONDS)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return window.summary()


async def main(argv: list[str], ids: list[str]) -> None:
    mode, url, key, _, clients, warmup, seconds = argv
    make = http_reader(url, key, ids) if mode == "http" else await query_reader(ids)
    result = await load(make, int(clients), float(warmup), float(seconds))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:], Path(sys.argv[4]).read_text().split()))
    # The SDK's runtime threads can crash a normal interpreter exit (sdk-python#300).
    os._exit(0)
