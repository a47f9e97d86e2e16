"""What the dev stack says, and the one error it reports without a traceback.

Its operational lines (children started, exited, restarted, stopped) are log lines like any
process's (JSON by default, `IME_LOG_FORMAT=console` for plain text); only the banner printed
once the stack is ready is for people alone (`devstack.banner`)."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any

from observability.logs import get_logger

LOG_TAIL_LINES = 20

log = get_logger("ime.devstack")


class StackError(RuntimeError):
    """A problem the developer can act on: printed as a message, without a traceback."""


def say(message: str, **fields: Any) -> None:
    log.info(message, **fields)


def complain(message: str) -> None:
    log.error(message)


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
