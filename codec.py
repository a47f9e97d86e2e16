"""Encryption of every Temporal payload (AES-256-GCM), so claimant data in workflow histories is
readable only with the key ring.

Each encrypted payload carries the id of the key that sealed it, so keys rotate without
re-encrypting history: new payloads use the active key, old ones still decrypt with theirs.
Failure messages and stack traces are moved into payloads too (encoded failure attributes), so
they are encrypted as well.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    BinaryNullPayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from domain.envelope import Reason, refusal_message
from domain.models import ActionInput
from domain.refusal import refuse

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
# Put by the worker's codec on each payload it decrypted (never by anyone else: it is taken off
# a payload that arrived in plaintext), for its payload converter to see (`worker_converter`).
OPENED = "ime-opened-with-key"
_NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload that cannot be decrypted (unknown key, tampered data). Says nothing of content."""


class KeyRing:
    """Named 256-bit keys; `active` seals new payloads, all of them open old ones."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active key id {active!r} is not in the key ring")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256)")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active = active

    @classmethod
    def parse(cls, spec: str, active: str = "") -> KeyRing:
        """`kid1:<base64 key>,kid2:<base64 key>`; the active key defaults to the last one."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, _, encoded = item.partition(":")
            if not key_id or not encoded:
                raise ValueError("codec keys are written kid:base64key, separated by commas")
            keys[key_id] = base64.b64decode(encoded)
        if not keys:
            raise ValueError("the codec key ring is empty")
        return cls(keys, active or list(keys)[-1])

    def seal(self, plaintext: bytes, associated: bytes = b"") -> tuple[str, bytes]:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        # The key id is bound as associated data: a payload cannot be relabelled to another key.
        sealed = self._keys[self.active].encrypt(
            nonce, plaintext, _associated(self.active, associated)
        )
        return self.active, nonce + sealed

    def open(self, key_id: str, data: bytes, associated: bytes = b"") -> bytes:
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise CodecError("payload sealed with a key this service does not have")
        try:
            return cipher.decrypt(
                data[:_NONCE_BYTES], data[_NONCE_BYTES:], _associated(key_id, associated)
            )
        except Exception:
            raise CodecError("payload failed authentication") from None


def _associated(key_id: str, context: bytes) -> bytes:
    """The key id, and what the value belongs to when the caller names it (a document chunk's
    document and place): a sealed value cannot be moved to another key, nor to another place.
    Without a context it is the key id alone, as every value sealed before contexts existed."""
    # A NUL never occurs in a key id, so no (key, context) pair reads as another.
    return key_id.encode() + (b"\0" + context if context else b"")


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        encoded = []
        for payload in payloads:
            key_id, data = self._ring.seal(payload.SerializeToString())
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=data)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption, or not ours
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            decoded.append(Payload.FromString(self._ring.open(key_id, payload.data)))
        return decoded


class _NullIsNoModel(BinaryNullPayloadConverter):
    """`null` where only a model will do (an Update's payload, a workflow's input) fails to
    decode: such an Update is rejected before its validator runs, instead of its handler failing
    the workflow task on every retry (a claim stuck on one malformed call). Where None may stand
    (an optional result, an untyped value) it is still None."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        union = typing.get_origin(type_hint) in (typing.Union, types.UnionType)
        options = typing.get_args(type_hint) if union else (type_hint,)
        if all(isinstance(o, type) and issubclass(o, BaseModel) for o in options):
            raise TypeError("a payload was expected, not null")
        return super().from_payload(payload, type_hint)


class ModelPayloadConverter(PydanticPayloadConverter):
    """Pydantic's payload converter, with `null` refused where a model is expected."""

    def __init__(self) -> None:
        super().__init__()
        self._set_converters(
            *(
                _NullIsNoModel() if isinstance(c, BinaryNullPayloadConverter) else c
                for c in self.converters.values()
            )
        )


class OpeningCodec(PayloadCodec):
    """The worker's codec: the given codec, and a mark on every payload it decrypted, so that
    the worker's converter can tell what arrived sealed from what arrived in plaintext."""

    def __init__(self, inner: PayloadCodec) -> None:
        self._inner = inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._inner.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = await self._inner.decode(payloads)
        marked = []
        for before, after in zip(payloads, decoded, strict=True):
            payload = Payload()
            payload.CopyFrom(after)
            if before.metadata.get("encoding") == ENCODING:
                payload.metadata[OPENED] = before.metadata.get(KEY_ID, b"")
            elif OPENED in payload.metadata:
                del payload.metadata[OPENED]  # a plaintext payload claiming to have been sealed
            marked.append(payload)
        return marked


class WorkerPayloadConverter(ModelPayloadConverter):
    """The worker's payload converter: refuses an action (an Update's argument) that arrived in
    plaintext. Only for new work: a workflow's replay decodes what its history holds, and a
    refusal there would fail the claim's workflow task on every attempt. Raised while the
    Update's argument is decoded, the refusal rejects the Update before its validator runs:
    nothing reaches the history."""

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        if type_hints and _new_workflow_work():
            for payload, hint in zip(payloads, type_hints, strict=False):
                if _is_action(hint) and OPENED not in payload.metadata:
                    raise refuse(refusal_message(Reason.PLAINTEXT))
        return super().from_payloads(payloads, type_hints)


def _new_workflow_work() -> bool:
    return workflow.in_workflow() and not workflow.unsafe.is_replaying()


def _is_action(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, ActionInput)


def worker_converter(converter: DataConverter) -> DataConverter:
    """A client's converter as the worker uses it: its codec marks what it decrypted, and
    actions that arrived in plaintext are refused (`WorkerPayloadConverter`). Without a codec
    nothing arrives sealed, so every action would be refused: a worker needs the key ring."""
    if converter.payload_codec is None:
        raise ValueError("the worker needs the payload codec (the key ring)")
    if not issubclass(converter.payload_converter_class, ModelPayloadConverter):
        raise ValueError("the worker's converter is the service's (codec.data_converter)")
    return dataclasses.replace(
        converter,
        payload_codec=OpeningCodec(converter.payload_codec),
        payload_converter_class=WorkerPayloadConverter,
    )


def data_converter(ring: KeyRing) -> DataConverter:
    """The one converter of workers, clients and the replayer: pydantic, encrypted."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=ModelPayloadConverter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def dev_key_ring(path: Path) -> KeyRing:
    """A key ring kept in a file under the data directory: for the dev stack only.

    Created on first use (mode 0600) so `make run`, the CLI and the worker share one key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w") as out:
                json.dump({"keys": {"dev-1": generate_key()}, "active": "dev-1"}, out)
    spec = json.loads(path.read_text())
    return KeyRing({k: base64.b64decode(v) for k, v in spec["keys"].items()}, spec["active"])


class Sealer:
    """Encryption at rest with the payload key ring: for what Postgres holds that only some may
    read (notification details, contacts, webhook secrets). A sealed value names its key, so
    rotation works as for payloads."""

    _PREFIX = b"s1:"

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def seal(self, plaintext: bytes, associated: bytes = b"") -> bytes:
        """`associated`: where the value belongs (e.g. a document chunk's document and index);
        the same must be given to `open`, so a sealed value moved elsewhere does not open."""
        key_id, data = self._ring.seal(plaintext, associated)
        return self._PREFIX + key_id.encode() + b":" + data

    def open(self, sealed: bytes, associated: bytes = b"") -> bytes:
        if not sealed.startswith(self._PREFIX):
            raise CodecError("not a sealed value")
        key_id, _, data = sealed[len(self._PREFIX) :].partition(b":")
        return self._ring.open(key_id.decode(), data, associated)

    def seal_json(self, value: object) -> bytes:
        return self.seal(json.dumps(value, separators=(",", ":"), default=str).encode())

    def open_json(self, sealed: bytes) -> Any:
        return json.loads(self.open(sealed))
