"""How uvicorn serves the API: its limits, and the one it lacks.

uvicorn bounds the idle time between requests (`--timeout-keep-alive`) and the size of a request
head (`--h11-max-incomplete-event-size`) but not the time a request head takes to arrive: a
client sending its headers a byte at a time holds a connection for as long as it likes (and
uvicorn's keep-alive timer restarts at every byte). `HeadDeadlineH11Protocol` is uvicorn's h11
protocol with that bound: from the moment a connection opens, or an answer is complete, the next
request's head must be in within `IME_REQUEST_HEAD_TIMEOUT_SECONDS`, else the connection is
closed. The same bound closes a connection whose client is still sending a body nobody reads any
more (an answer, a 401 or a 408, was given before it). The time the body itself takes is bounded
in the app (`api.boundary`: 408).

Every place that starts the API passes `UVICORN_OPTIONS` (`devstack.commands.api_argv`, the
`api` service of `docker-compose.yml`); docs/operations.md says what they are and that production
sits behind a buffering proxy as well.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from settings import get_settings

# Request heads up to 16 KiB (h11's own default, said out loud); idle keep-alive connections
# closed after 5 s.
MAX_HEAD_BYTES = 16_384
KEEP_ALIVE_SECONDS = 5
# A client that keeps idle connections must drop them before the server does: a request written
# on a connection the server is closing at that moment fails with a read error, and a POST is not
# retried. Our own clients of a running API (the chaos run, the benchmark, tests) use this.
CLIENT_IDLE_SECONDS = KEEP_ALIVE_SECONDS / 2
UVICORN_OPTIONS = (
    "--http",
    "api.serving:HeadDeadlineH11Protocol",
    "--timeout-keep-alive",
    str(KEEP_ALIVE_SECONDS),
    "--h11-max-incomplete-event-size",
    str(MAX_HEAD_BYTES),
)


class HeadDeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline on each request head (see the module)."""

    # Seconds; None: `IME_REQUEST_HEAD_TIMEOUT_SECONDS`.
    head_timeout: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._awaited: object = None
        self._head_deadline: asyncio.TimerHandle | None = None
        self._await_head(self.cycle)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not self._awaited:  # a request's head came in: it is the app's now
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        answered = self.cycle
        super().on_response_complete()  # may start a pipelined request at once
        if not self.transport.is_closing() and self.cycle is answered:
            self._await_head(answered)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _await_head(self, current: Any) -> None:
        """Wait for a request after `current` (None: the first), until the deadline."""
        self._cancel_head_deadline()
        self._awaited = current
        timeout = self.head_timeout
        if timeout is None:
            timeout = get_settings().request_head_timeout_seconds
        self._head_deadline = self.loop.call_later(timeout, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.cycle is self._awaited and not self.transport.is_closing():
            self.transport.close()
