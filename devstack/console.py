"""What the dev stack prints, and the one error it reports without a traceback."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

LOG_TAIL_LINES = 20


class StackError(RuntimeError):
    """A problem the developer can act on: printed as a message, without a traceback."""


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def complain(message: str) -> None:
    print(f"[devstack] error: {message}", file=sys.stderr, flush=True)


def shell_path(path: Path) -> str:
    """A path as a developer would type it: relative when under the current directory."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty log)"


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)
