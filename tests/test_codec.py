"""Payload encryption: what reaches Temporal is ciphertext; keys rotate; the codec server."""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from codec import ENCODING, CodecError, EncryptionCodec, KeyRing, generate_key
from domain.models import ClaimStatus, Referral
from domain.names import Query
from tests.conftest import TEST_CODEC_KEYS
from tests.factories import referral_payload
from tests.helpers import start_claim, wait_for

PHI = [b"Jane Roe", b"1980-04-02", b"212-555-0100", b"jane@example.org", b"1 Main St"]


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_and_ciphertext_hides_the_content():
    codec = EncryptionCodec(KeyRing.parse(TEST_CODEC_KEYS))
    [sealed] = await codec.encode([plain('{"full_name": "Jane Roe"}')])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"test-1"
    assert b"Jane" not in sealed.SerializeToString()
    [opened] = await codec.decode([sealed])
    assert opened == plain('{"full_name": "Jane Roe"}')


async def test_rotation_keeps_old_payloads_readable():
    old_key, new_key = generate_key(), generate_key()
    before = EncryptionCodec(KeyRing.parse(f"k1:{old_key}"))
    [sealed_old] = await before.encode([plain("old")])
    after = EncryptionCodec(KeyRing.parse(f"k1:{old_key},k2:{new_key}"))
    [sealed_new] = await after.encode([plain("new")])
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    assert [p.data for p in await after.decode([sealed_old, sealed_new])] == [b"old", b"new"]


async def test_tampered_or_unknown_key_payloads_are_refused():
    codec = EncryptionCodec(KeyRing.parse(TEST_CODEC_KEYS))
    [sealed] = await codec.encode([plain("x")])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\0")
    with pytest.raises(CodecError, match="authentication"):
        await codec.decode([tampered])
    relabelled = Payload(
        metadata={**dict(sealed.metadata), "encryption-key-id": b"other"}, data=sealed.data
    )
    with pytest.raises(CodecError, match="a key this service does not have"):
        await codec.decode([relabelled])


def test_bad_key_rings_are_configuration_errors():
    with pytest.raises(ValueError, match="32 bytes"):
        KeyRing.parse("k:" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="not in the key ring"):
        KeyRing.parse(TEST_CODEC_KEYS, active="missing")


@pytest.mark.usefixtures("ts_worker")
async def test_workflow_history_holds_no_readable_phi(ts_env, client, task_queue):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    await wait_for(handle, lambda s: s.appointment is not None)
    # A client without the key ring sees only ciphertext: input, activity arguments, results.
    raw_client = await Client.connect(
        client.service_client.config.target_host, namespace=client.namespace
    )
    history = await raw_client.get_workflow_handle(handle.id).fetch_history()
    raw = history.to_json().encode()
    assert not [value for value in PHI if value in raw]
    assert b"Jane Roe" not in history.events[0].SerializeToString()
    # With the key ring everything decodes.
    status = await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)
    assert status.claim_id in handle.id


async def test_codec_server_decodes_for_the_ui(api_client):
    codec = EncryptionCodec(KeyRing.parse(TEST_CODEC_KEYS))
    [sealed] = await codec.encode([plain('"Jane Roe"')])
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }
    answer = await api_client.post(
        "/codec/decode",
        content=json.dumps(body),
        headers={"content-type": "application/json", "x-namespace": "default"},
    )
    assert answer.status_code == 200, answer.text
    [decoded] = answer.json()["payloads"]
    assert base64.b64decode(decoded["data"]) == b'"Jane Roe"'

    encoded = await api_client.post("/codec/encode", json={"payloads": [decoded]})
    [again] = encoded.json()["payloads"]
    assert base64.b64decode(again["metadata"]["encoding"]) == ENCODING

    preflight = await api_client.options(
        "/codec/decode",
        headers={
            "origin": "http://localhost:8233",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8233"

    json_type = {"content-type": "application/json"}
    garbage = await api_client.post("/codec/decode", content=b"not json", headers=json_type)
    assert garbage.status_code == 422
    text = await api_client.post("/codec/decode", content=b"not json")
    assert text.status_code == 415
