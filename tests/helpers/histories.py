"""Recorded workflow histories, the replay fixtures of tests/test_replay.py: where they live,
how a run's history is kept, and the manifest pinning each file's digest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from temporalio.client import WorkflowHandle, WorkflowHistory

from domain.names import Patch

HISTORIES = Path(__file__).parent.parent / "histories"
# The pins of the histories landed before each history got a pin file of its own (frozen), and
# the pin files of those recorded since: recording only ever adds files.
MANIFEST = HISTORIES / "MANIFEST.sha256"
PINS = HISTORIES / "pins"
RECORDED = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    recorded = json.loads(path.read_text())
    return WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])


# Histories are recorded under the branch's name and the newest patch of the workflow code, so
# each version of the code leaves its own histories beside those of the versions before it.
VERSION = list(Patch)[-1].value


async def keep_history(handle: WorkflowHandle, name: str) -> None:
    """With IME_RECORD_HISTORIES=1, save the run's history as a replay fixture (see test_replay)
    as `<name>@<newest patch>.json`, unless it exists: recorded histories are never replaced."""
    name = f"{name}@{VERSION}"
    if os.environ.get("IME_RECORD_HISTORIES") != "1" or (HISTORIES / f"{name}.json").exists():
        return
    history = await handle.fetch_history()
    # The workflow id matters on replay (child workflow ids derive from it).
    recorded = {"workflow_id": handle.id, "history": history.to_json_dict()}
    save_history(HISTORIES, PINS, name, recorded)


def save_history(directory: Path, pins: Path, name: str, recorded: dict) -> bool:
    """Write `<name>.json` and pin its digest in a new pin file `pins/<name>.json.sha256`;
    False (nothing written) when a history of that name exists."""
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.json"
    data = json.dumps(recorded).encode()
    try:
        with path.open("xb") as out:  # exclusive: never replaces a file
            out.write(data)
    except FileExistsError:
        return False
    pins.mkdir(exist_ok=True)
    with (pins / f"{path.name}.sha256").open("x") as pin:
        pin.write(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    return True


def pinned(manifest: Path = MANIFEST, pins: Path = PINS) -> dict[str, str]:
    """Every recorded history's pinned digest, by file name."""
    lines = manifest.read_text().splitlines()
    for pin in sorted(pins.glob("*.sha256")):
        lines += pin.read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line)}
