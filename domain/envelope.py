"""The signed envelope of an action: how a claim knows that an Update came through the API.

The API (and the operations CLI, through the same `claim_service`) signs every Update it sends with
an HMAC key that only it and the workers hold; the worker checks the signature before the Update
reaches the claim (`workflows.action_guard`). The envelope travels in the Update's Temporal
header `ime-action-envelope` and carries only what cannot be recomputed by the worker: a version,
a nonce, when it was signed and the MAC. Everything else the MAC covers is recomputed from the
Update itself: the workflow id it reached, the Update's name and id (the idempotency key), the
caller (`acted_by`) and a digest of the argument's canonical JSON. So the header shows nothing of
the action (a digest of a decision's few possible bodies could be guessed; a MAC cannot), and an
envelope is good for one Update of one workflow, for a few minutes, once.

Pure: hmac, hashlib and json; no I/O, no clock (callers pass `now`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

HEADER = "ime-action-envelope"
VERSION = 1
# How old an envelope may be when the claim checks it (signing to validation: the API's call,
# Temporal's queue, clock skew between the API and the Temporal server), and how far in the
# future (skew alone).
WINDOW = timedelta(minutes=5)
SKEW = timedelta(minutes=1)
# How many envelopes a claim remembers (within the window) to refuse one sent twice.
REMEMBERED = 1024
# What every action refused here says first (an `ActionNotAllowed` refusal). The API never
# passes it on to its callers: it signed the action, so the fault is the service's (503, see
# `claim_service`).
REFUSAL = "actions reach a claim only through the API"


class Reason:
    """Why an envelope was refused: said after the refusal, for the SRE who tried, and logged."""

    MISSING = "unsigned"
    MALFORMED = "malformed envelope"
    SIGNATURE = "signature does not match this action"
    EXPIRED = "envelope expired"
    FUTURE = "envelope from the future"
    REPLAYED = "envelope already used"
    PLAINTEXT = "payload not sealed by the payload codec"


def refusal_message(reason: str) -> str:
    return f"{REFUSAL} ({reason})"


class SigningKeys:
    """The HMAC keys: the first signs, every one verifies (so a new key is added first, made the
    signing one next, and the old one removed once no envelope signed with it can be in flight,
    i.e. after the window)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one action signing key is needed")
        self._keys = [key.encode() for key in keys]

    @classmethod
    def parse(cls, spec: str) -> SigningKeys:
        """`key1,key2`: comma-separated, the first signs."""
        return cls([key.strip() for key in spec.split(",") if key.strip()])

    def sign(self, message: bytes) -> str:
        return hmac.new(self._keys[0], message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, mac: str) -> bool:
        # Every key is tried (no early exit), each comparison in constant time.
        matches = [
            hmac.compare_digest(hmac.new(key, message, hashlib.sha256).hexdigest(), mac)
            for key in self._keys
        ]
        return any(matches)


@dataclass(frozen=True)
class Envelope:
    """What the header carries. `issued_at`: milliseconds since the epoch."""

    nonce: str
    issued_at: int
    mac: str
    version: int = VERSION

    def to_json(self) -> bytes:
        return canonical_json(
            {"v": self.version, "nonce": self.nonce, "issued_at": self.issued_at, "mac": self.mac}
        )

    @classmethod
    def from_json(cls, data: bytes) -> Envelope:
        """The envelope in a header; ValueError when it is not one."""
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            raise ValueError("not JSON") from None
        if not isinstance(raw, dict) or set(raw) != {"v", "nonce", "issued_at", "mac"}:
            raise ValueError("not an envelope")
        nonce, issued_at, mac, version = raw["nonce"], raw["issued_at"], raw["mac"], raw["v"]
        if version != VERSION or type(issued_at) is not int:
            raise ValueError("not an envelope of this version")
        if not (isinstance(nonce, str) and 16 <= len(nonce) <= 64):
            raise ValueError("bad nonce")
        if not (isinstance(mac, str) and len(mac) == 64):
            raise ValueError("bad mac")
        return cls(nonce=nonce, issued_at=issued_at, mac=mac, version=version)


@dataclass(frozen=True)
class UpdateCall:
    """The Update an envelope is for, as the signer sees it and as the claim sees it.

    `args`: the Update's arguments in their JSON form (`sent_form` on the signer's side,
    `received_form` on the claim's), from which the digest and the caller are taken."""

    workflow_id: str
    update: str
    update_id: str
    args: Sequence[Any]

    @property
    def caller(self) -> Any:
        first = self.args[0] if self.args else None
        return first.get("acted_by") if isinstance(first, Mapping) else None

    def message(self, nonce: str, issued_at: int) -> bytes:
        """What the MAC covers."""
        digest = hashlib.sha256(canonical_json(list(self.args))).hexdigest()
        return canonical_json(
            {
                "v": VERSION,
                "workflow_id": self.workflow_id,
                "update": self.update,
                "update_id": self.update_id,
                "caller": self.caller,
                "args_sha256": digest,
                "nonce": nonce,
                "issued_at": issued_at,
            }
        )


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sent_form(arg: Any) -> Any:
    """An argument as the signer sends it: a model with every field (as Temporal's pydantic
    converter writes it)."""
    if isinstance(arg, BaseModel):
        return arg.model_dump(mode="json")
    return to_jsonable_python(arg)


def received_form(arg: Any) -> Any:
    """An argument as the claim received it: a model with the fields the JSON held, so a worker
    whose model has gained a field (with its default) still sees what was signed."""
    if isinstance(arg, BaseModel):
        return arg.model_dump(mode="json", exclude_unset=True)
    return to_jsonable_python(arg)


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def seal(keys: SigningKeys, action: UpdateCall, *, nonce: str, now: datetime) -> Envelope:
    issued_at = millis(now)
    return Envelope(
        nonce=nonce, issued_at=issued_at, mac=keys.sign(action.message(nonce, issued_at))
    )


class RecentNonces:
    """The envelopes a claim accepted lately (nonce → when signed), to refuse one sent again.

    Bounded: entries older than the window are dropped (such an envelope is refused as expired
    anyway), and past `limit` the oldest go first."""

    def __init__(self, limit: int = REMEMBERED, window: timedelta = WINDOW + SKEW) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._limit = limit
        self._window_ms = int(window.total_seconds() * 1000)

    def __contains__(self, nonce: str) -> bool:
        return nonce in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, envelope: Envelope, now: datetime) -> None:
        self._seen[envelope.nonce] = envelope.issued_at
        self._seen.move_to_end(envelope.nonce)
        oldest = millis(now) - self._window_ms
        for nonce, issued_at in list(self._seen.items()):
            if issued_at < oldest or len(self._seen) > self._limit:
                del self._seen[nonce]


def check(
    keys: SigningKeys,
    header: bytes | None,
    action: UpdateCall,
    *,
    now: datetime,
    seen: RecentNonces,
    window: timedelta = WINDOW,
) -> tuple[Envelope | None, str | None]:
    """The envelope of `action` and, when it must be refused, why (`Reason`)."""
    if header is None:
        return None, Reason.MISSING
    try:
        envelope = Envelope.from_json(header)
    except ValueError:
        return None, Reason.MALFORMED
    if not keys.verify(action.message(envelope.nonce, envelope.issued_at), envelope.mac):
        return envelope, Reason.SIGNATURE
    age_ms = millis(now) - envelope.issued_at
    if age_ms > window.total_seconds() * 1000:
        return envelope, Reason.EXPIRED
    if -age_ms > SKEW.total_seconds() * 1000:
        return envelope, Reason.FUTURE
    if envelope.nonce in seen:
        return envelope, Reason.REPLAYED
    return envelope, None
