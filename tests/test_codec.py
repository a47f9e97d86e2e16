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
from tests.helpers.app import ApiHarness
from tests.helpers.claims import start_claim, wait_for
from tests.helpers.config import TEST_CODEC_KEYS
from tests.helpers.referrals import referral_payload

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


def payloads_json(*payloads: Payload) -> dict:
    """Payloads as the Temporal UI sends them to a codec server."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


async def test_codec_server_decodes_for_the_ui(api_client):
    codec = EncryptionCodec(KeyRing.parse(TEST_CODEC_KEYS))
    [sealed] = await codec.encode([plain('"Jane Roe"')])
    body = payloads_json(sealed)
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
    # Nothing else of the API is called from a browser on another origin: no CORS there.
    elsewhere = await api_client.get("/v1/claims", headers={"origin": "http://localhost:8233"})
    assert elsewhere.status_code == 200
    assert "access-control-allow-origin" not in elsewhere.headers

    json_type = {"content-type": "application/json"}
    garbage = await api_client.post("/codec/decode", content=b"not json", headers=json_type)
    assert garbage.status_code == 422
    text = await api_client.post("/codec/decode", content=b"not json")
    assert text.status_code == 415


async def test_the_codec_answers_only_sre_and_ops_and_a_signed_in_browser(api):
    from domain.names import Role
    from store import api_keys

    assert isinstance(api, ApiHarness)
    codec = EncryptionCodec(KeyRing.parse(TEST_CODEC_KEYS))
    [sealed] = await codec.encode([plain('"x"')])
    body = payloads_json(sealed)
    anonymous = api.client(None)
    assert (await anonymous.post("/codec/decode", json=body)).status_code == 401
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    assert (await insurer.post("/codec/decode", json=body)).status_code == 403
    assert (await insurer.post("/codec/session")).status_code == 403

    # An SRE signs in once with their key; the browser then sends only the cookie.
    sre_key = await api.key(Role.SRE)
    signed_in = await api.client(sre_key).post("/codec/session")
    assert signed_in.status_code == 204
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/codec" in cookie and "SameSite=lax" in cookie
    browser = api.client(None)
    browser.cookies.set("ime_codec_session", signed_in.cookies["ime_codec_session"])
    assert (await browser.post("/codec/decode", json=body)).status_code == 200
    assert (await browser.get("/v1/claims")).status_code == 401  # the cookie is for the codec only
    forged = api.client(None)
    forged.cookies.set("ime_codec_session", signed_in.cookies["ime_codec_session"][:-2] + "xx")
    assert (await forged.post("/codec/decode", json=body)).status_code == 401

    # Revoking the key ends the session on every process within seconds.
    await api_keys.revoke(api.pool, sre_key.split("_")[1])
    api.app.state.authenticator.forget()
    assert (await browser.post("/codec/decode", json=body)).status_code == 401
    assert (await api.client(None).get("/codec/sign-in")).status_code == 200
