"""One API key per role for the dev stack, made on the first `make run` and kept in
`<data_dir>/dev-keys.json` (mode 0600), so the banner's curl lines, the demo simulator and the
codec gateway have a caller. Development only: a real deployment makes keys with
`starter.py keys create`."""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg

from domain.keys import key_id_of
from domain.names import Role
from store import api_keys

DEV_KEYS_FILE = "dev-keys.json"
# The same keys as shell exports: `source .data/dev-keys.env`.
DEV_KEYS_ENV = "dev-keys.env"
# The codec gateway's secret path (mode 0600): the gateway serves only under it.
GATEWAY_SECRET_FILE = "codec-gateway-secret"
_GATEWAY_SECRET = re.compile(r"^[A-Za-z0-9_-]{32,}$")


@dataclass(frozen=True)
class DevKey:
    label: str  # the shell variable the banner exports it as
    role: Role
    insurer_id: str | None = None
    examiner_id: str | None = None


DEV_KEYS = (
    DevKey("OPS_KEY", Role.OPS),
    # The insurer of the sample referral (README walk) and the demo simulator's own insurer.
    DevKey("INSURER_KEY", Role.INSURER, insurer_id="acme-ins"),
    DevKey("DEMO_INSURER_KEY", Role.INSURER, insurer_id="demo-insurer"),
    # The demo insurer's appeals adjuster: decides appeals of the denials the other key made.
    DevKey("DEMO_APPEALS_KEY", Role.INSURER, insurer_id="demo-insurer"),
    DevKey("EXAMINER_KEY", Role.EXAMINER, examiner_id="ex-ny-orthopedic-surgery-1"),
    DevKey("REVIEWER_KEY", Role.REVIEWER),
    DevKey("SENIOR_REVIEWER_KEY", Role.SENIOR_REVIEWER),
    DevKey("CLINICIAN_KEY", Role.CLINICIAN),
    DevKey("SRE_KEY", Role.SRE),
)


async def ensure_dev_keys(conn: asyncpg.Connection, data_dir: Path, secret: str) -> dict[str, str]:
    """The dev keys by label: those in the file when they still work, new ones otherwise."""
    path = data_dir / DEV_KEYS_FILE
    kept = load_dev_keys(data_dir)
    keys: dict[str, str] = {}
    for dev in DEV_KEYS:
        existing = kept.get(dev.label)
        if existing and await _still_valid(conn, existing):
            keys[dev.label] = existing
            continue
        _, keys[dev.label] = await api_keys.create(
            conn,
            secret,
            role=dev.role,
            insurer_id=dev.insurer_id,
            examiner_id=dev.examiner_id,
            name=f"dev stack {dev.label.lower().removesuffix('_key')}",
        )
    if keys != kept:
        roles = {d.label: asdict(d) for d in DEV_KEYS}
        _write_private(path, json.dumps({"keys": keys, "roles": roles}, indent=1, default=str))
    exports = "".join(f"export {label}={key}\n" for label, key in keys.items())
    _write_private(data_dir / DEV_KEYS_ENV, exports)
    return keys


def describe(dev: DevKey) -> str:
    scope = dev.insurer_id or dev.examiner_id
    return f"{dev.role}" + (f" ({scope})" if scope else "")


def load_dev_keys(data_dir: Path) -> dict[str, str]:
    try:
        keys = json.loads((data_dir / DEV_KEYS_FILE).read_text())["keys"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: v for k, v in keys.items() if isinstance(k, str) and isinstance(v, str)}


def gateway_secret(data_dir: Path) -> str:
    """The codec gateway's path secret: random, made on first use and kept in the data dir, so the
    Temporal UI's codec endpoint (`devstack.commands.gateway_url`) and the gateway agree."""
    kept = read_gateway_secret(data_dir)
    if kept is not None:
        return kept
    secret = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(data_dir / GATEWAY_SECRET_FILE, secret + "\n")
    return secret


def read_gateway_secret(data_dir: Path) -> str | None:
    """The kept path secret, or None when there is none (or it is not one)."""
    try:
        text = (data_dir / GATEWAY_SECRET_FILE).read_text().strip()
    except OSError:
        return None
    return text if _GATEWAY_SECRET.match(text) else None


async def _still_valid(conn: asyncpg.Connection, key: str) -> bool:
    key_id = key_id_of(key)
    found = await api_keys.find(conn, key_id) if key_id else None
    return found is not None and found.revoked_at is None and found.expires_at is None


def _write_private(path: Path, content: str) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    draft.replace(path)
