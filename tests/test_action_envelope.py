"""Actions reach a claim only through the API (issue 16, point 2).

The API signs every Update with a key only it and the workers hold (`domain.envelope`,
`connections.ActionSigner`); the worker refuses, before anything reaches the history, an Update
without a good envelope (`workflows.action_guard`) or whose argument arrived in plaintext
(`codec.worker_converter`). Shown here through the real `temporal` CLI (with and without the
codec), through the SDK, and on the envelope itself; histories recorded before the guard still
replay with it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.update.v1 import Request, WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from claim_service import ClaimService
from codec import OPENED, EncryptionCodec, KeyRing, data_converter, worker_converter
from connections import ActionSigner
from domain.actions import ACTION_MODELS
from domain.envelope import (
    HEADER,
    REFUSAL,
    SKEW,
    WINDOW,
    Envelope,
    Reason,
    RecentNonces,
    SigningKeys,
    UpdateCall,
    check,
    received_form,
    seal,
    sent_form,
)
from domain.errors import Unavailable
from domain.examples import ACTION_EXAMPLES
from domain.models import Caller
from domain.names import Action, Role
from domain.parsing import parse_action
from domain.refusal import ACTION_NOT_ALLOWED
from settings import DEV_ACTION_SIGNING_KEY, Settings
from store import claims as claims_store
from tests.helpers.app import ApiHarness
from tests.helpers.config import (
    TEST_ACTION_SIGNING_KEYS,
    TEST_CODEC_KEYS,
    TEST_CONVERTER,
    TEST_SEALER,
)
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.temporal_cli import served, temporal
from tests.helpers.walk import Parties, post_action, wait_until
from workflows import WORKFLOWS, ClaimWorkflow, SafetyEscalationWorkflow
from workflows.action_guard import ActionGuard

KEYS = SigningKeys.parse(TEST_ACTION_SIGNING_KEYS)
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
INSURER = Caller(role=Role.INSURER, key_id="k-insurer", key_name="adjuster", insurer_id="acme-ins")
WORKFLOW_ID = "ime-claim-aaaaaaaaaaaaaaaaaaaaaaaaaa"
UPDATE_ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED


# --- the envelope -------------------------------------------------------------------------


def decision(outcome: str = "approved", caller: Caller = INSURER) -> UpdateCall:
    payload = parse_action(Action.DECISION, {"outcome": outcome, "reason_code": "X"}, caller)
    return UpdateCall(WORKFLOW_ID, Action.DECISION, "idem-1", [sent_form(payload)])


def checked(
    call: UpdateCall,
    envelope: Envelope | None,
    *,
    keys: SigningKeys = KEYS,
    now: datetime = NOW,
    seen: RecentNonces | None = None,
) -> str | None:
    header = envelope.to_json() if envelope is not None else None
    return check(keys, header, call, now=now, seen=seen or RecentNonces())[1]


def test_an_envelope_is_good_for_the_update_it_was_signed_for():
    call = decision()
    envelope = seal(KEYS, call, nonce="n" * 32, now=NOW)
    assert checked(call, envelope) is None
    assert checked(call, envelope, now=NOW + WINDOW) is None
    # The header shows nothing of the action: no claim, no caller, no digest of the body.
    header = json.loads(envelope.to_json())
    assert set(header) == {"v", "nonce", "issued_at", "mac"}


def test_an_envelope_is_refused_for_any_other_update():
    call = decision()
    envelope = seal(KEYS, call, nonce="n" * 32, now=NOW)
    others = {
        "tampered body": decision("denied"),
        "another claim": replace(call, workflow_id="ime-claim-bbbbbbbbbbbbbbbbbbbbbbbbbb"),
        "another action": replace(call, update=Action.WITHDRAW),
        "another idempotency key": replace(call, update_id="idem-2"),
        "forged caller": decision(caller=INSURER.model_copy(update={"key_id": "k-other"})),
        "no caller": replace(call, args=[dict(call.args[0], acted_by=None)]),
    }
    for name, other in others.items():
        assert checked(other, envelope) == Reason.SIGNATURE, name


def test_an_envelope_expires_and_cannot_come_from_the_future():
    call = decision()
    envelope = seal(KEYS, call, nonce="n" * 32, now=NOW)
    assert checked(call, envelope, now=NOW + WINDOW + timedelta(seconds=1)) == Reason.EXPIRED
    assert checked(call, envelope, now=NOW - SKEW) is None
    assert checked(call, envelope, now=NOW - SKEW - timedelta(seconds=1)) == Reason.FUTURE


def test_a_rotated_key_still_verifies_until_it_is_removed():
    old, new = "o" * 40, "n" * 40
    call = decision()
    by_old = seal(SigningKeys([old]), call, nonce="n" * 32, now=NOW)
    assert checked(call, by_old, keys=SigningKeys([new, old])) is None
    assert checked(call, by_old, keys=SigningKeys([new])) == Reason.SIGNATURE
    by_new = seal(SigningKeys([new, old]), call, nonce="m" * 32, now=NOW)
    assert checked(call, by_new, keys=SigningKeys([new])) is None  # the first key signs
    assert checked(call, by_new, keys=SigningKeys([old])) == Reason.SIGNATURE


def test_missing_and_malformed_envelopes_are_refused():
    call = decision()
    assert checked(call, None) == Reason.MISSING
    good = json.loads(seal(KEYS, call, nonce="n" * 32, now=NOW).to_json())
    for bad in [b"", b"not json", b"[]", json.dumps(good | {"v": 2}).encode(),
                json.dumps(good | {"extra": 1}).encode(),
                json.dumps(good | {"issued_at": str(good["issued_at"])}).encode(),
                json.dumps(good | {"mac": "00"}).encode()]:  # fmt: skip
        assert check(KEYS, bad, call, now=NOW, seen=RecentNonces())[1] == Reason.MALFORMED, bad


def test_an_envelope_once_accepted_is_refused_again_and_memory_is_bounded():
    call = decision()
    envelope = seal(KEYS, call, nonce="n" * 32, now=NOW)
    seen = RecentNonces(limit=3)
    seen.remember(envelope, NOW)
    assert checked(call, envelope, seen=seen) == Reason.REPLAYED
    for n in range(5):
        seen.remember(Envelope(nonce=f"{n}" * 32, issued_at=envelope.issued_at, mac=""), NOW)
    assert len(seen) == 3 and envelope.nonce not in seen  # the oldest went first
    # Past the window an envelope is refused as expired: no need to remember it.
    seen.remember(Envelope(nonce="z" * 32, issued_at=envelope.issued_at, mac=""), NOW + WINDOW * 2)
    assert len(seen) == 0


def test_what_the_api_signs_is_what_the_worker_decodes_for_every_action():
    """The digest is of the argument's JSON form: the API's (every field) and the worker's
    (what arrived) agree after Temporal's converter, for every action's example."""
    for action, model in ACTION_MODELS.items():
        payload = parse_action(action, ACTION_EXAMPLES[action.value], INSURER)
        [sent] = TEST_CONVERTER.payload_converter.to_payloads([payload])
        [received] = TEST_CONVERTER.payload_converter.from_payloads([sent], [model])
        assert received_form(received) == sent_form(payload), action
        assert received_form(received)["acted_by"]["key_id"] == "k-insurer"


def test_production_refuses_the_dev_signing_key_and_short_keys():
    production = {"env": "production", "id_secret": "x" * 40, "api_key_secret": "x" * 40,
                  "codec_keys": TEST_CODEC_KEYS, "temporal_tls": True,
                  "claimant_contact": "Acme IME desk, +1-212-555-0199"}  # fmt: skip
    for keys in (DEV_ACTION_SIGNING_KEY, "short-key", f"{'x' * 40},short-key"):
        with pytest.raises(ValueError, match="IME_ACTION_SIGNING_KEYS") as refused:
            Settings(**production, action_signing_keys=keys)  # type: ignore[arg-type]
        assert "short-key" not in str(refused.value) and "dev-only" not in str(refused.value)
    rotated = Settings(**production, action_signing_keys=f"{'a' * 40}, {'b' * 40}")  # type: ignore[arg-type]
    assert rotated.signing_keys() == ["a" * 40, "b" * 40]
    assert Settings().signing_keys() == [DEV_ACTION_SIGNING_KEY]


def test_every_update_has_a_validator_so_the_guard_always_runs():
    """The SDK calls an interceptor's validator hook only for an Update that has a validator."""
    for cls in (ClaimWorkflow, SafetyEscalationWorkflow):
        for name, update in workflow._Definition.must_from_class(cls).updates.items():
            assert update.validator is not None, f"{cls.__name__}.{name}"


async def test_the_workers_codec_marks_only_what_it_decrypted():
    codec = worker_converter(TEST_CONVERTER).payload_codec
    assert codec is not None
    inner = Payload(metadata={"encoding": b"json/plain"}, data=b'{"x":1}')
    [sealed] = await EncryptionCodec(KeyRing.parse(TEST_CODEC_KEYS)).encode([inner])
    claiming = Payload(metadata={"encoding": b"json/plain", OPENED: b"test-1"}, data=b"{}")
    opened, plain, claimed = await codec.decode([sealed, inner, claiming])
    assert opened.metadata[OPENED] == b"test-1" and opened.data == inner.data
    assert OPENED not in plain.metadata
    assert OPENED not in claimed.metadata  # a plaintext payload cannot claim to have been sealed


# --- through the real CLI, the SDK and the API ------------------------------------------------


class PlaintextOut(EncryptionCodec):
    """A codec that sends payloads in plaintext (as a client without the key ring does) but
    reads the worker's sealed answers, so that the test can read the refusal. `mark`: each
    payload also claims the mark of a payload the worker decrypted."""

    def __init__(self, ring: KeyRing, mark: bool) -> None:
        super().__init__(ring)
        self._mark = mark

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._mark:
            for payload in payloads:
                payload.metadata[OPENED] = b"test-1"
        return list(payloads)


async def walk_to_decision(parties: Parties) -> dict:
    """A DEMO claim walked through the API to DECISION: an insurer's decision would be taken."""
    created = await parties.insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_until(parties.insurer, claim_id, lambda c: c["appointment"] is not None)
    confirmed = await post_action(parties.ops, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200, confirmed.text
    starts_at = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    exam = {"attended": True, "risk_screen": {"level": "none", "toward": None}}
    for party, action, body in [
        (parties.ops, "exam", exam),
        (parties.ops, "report", complete_report()),
        (parties.reviewer, "review", {"result": "accepted", "reasons": []}),
    ]:
        answer = await post_action(party, claim_id, action, body)
        assert answer.status_code == 200, (action, answer.text)
    status = answer.json()
    assert status["stage"] == "DECISION"
    return status


async def booked_claim(parties: Parties) -> dict:
    created = await parties.insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    return await wait_until(parties.insurer, claim_id, lambda c: c["appointment"] is not None)


async def accepted_updates(client: Client, workflow_id: str) -> list[HistoryEvent]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [e for e in history.events if e.event_type == UPDATE_ACCEPTED]


async def snapshot(client: Client, pool: asyncpg.Pool, status: dict) -> tuple[Any, ...]:
    """What the claim is: its updates in Temporal, its status and events in Postgres."""
    events = await claims_store.list_events(pool, status["claim_id"])
    stored = await claims_store.get_status(pool, status["claim_id"])
    accepted = await accepted_updates(client, status["workflow_id"])
    return (len(accepted), stored, [(e.seq, e.type) for e in events])


async def send_raw(client: Client, workflow_id: str, request: Request) -> str | None:
    """An Update request as it stands (header, sealed argument, id), sent with the SDK's
    service client; the refusal's message, or None when it was accepted."""
    sent = UpdateWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        request=request,
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
        ),
    )
    async with asyncio.timeout(30):
        while True:
            answer = await client.workflow_service.update_workflow_execution(sent, retry=True)
            if answer.outcome.HasField("failure"):
                return str(await TEST_CONVERTER.decode_failure(answer.outcome.failure))
            if answer.outcome.HasField("success"):
                return None


def refused_because(text: str, reason: str) -> bool:
    return f"{REFUSAL} ({reason})" in text


async def test_a_forged_decision_from_the_temporal_cli_is_refused_and_leaves_no_trace(
    api: ApiHarness, parties: Parties, dev_env: WorkflowEnvironment, pool: asyncpg.Pool
):
    """An SRE with the codec (so the argument is sealed as the API would seal it) closes a
    claim as denied in an insurer's name: refused before the history, nothing in Postgres."""
    claim = await walk_to_decision(parties)
    client = dev_env.client
    before = await snapshot(client, pool, claim)
    forged = {"outcome": "denied", "reason_code": "IME_NOT_RELATED", "notes": "",
              "acted_by": {"role": "insurer", "key_id": "k-never-called",
                           "insurer_id": "acme-ins"}}  # fmt: skip
    sre = await api.key(Role.SRE)
    async with served(api) as url:
        cli = temporal(dev_address(dev_env), (f"{url}/codec", f"Bearer {sre}"))
        code, out, err = await cli("workflow", "update", "execute",
                                   "--workflow-id", claim["workflow_id"], "--name", "decision",
                                   "--input", json.dumps(forged))  # fmt: skip
    assert code != 0, out
    assert refused_because(out + err, Reason.MISSING), out + err
    assert await snapshot(client, pool, claim) == before
    status = (await parties.insurer.get(f"/v1/claims/{claim['claim_id']}")).json()
    assert (status["stage"], status["status"], status["decision"]) == ("DECISION", "open", None)

    # The API's path still decides the claim, in the name of the key that called.
    decided = await post_action(parties.insurer, claim["claim_id"], "decision",
                                {"outcome": "approved", "reason_code": "IME_SUPPORTS"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert (decided.json()["stage"], decided.json()["outcome"]) == ("CLOSED", "approved")
    # Its history (signed Updates) replays with the guard: each envelope is remembered again,
    # none is checked.
    history = await client.get_workflow_handle(claim["workflow_id"]).fetch_history()
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=worker_converter(TEST_CONVERTER),
        interceptors=[ActionGuard(KEYS)],
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None


async def test_a_safety_case_takes_only_signed_actions_too(
    api: ApiHarness, parties: Parties, dev_env: WorkflowEnvironment
):
    claim = await booked_claim(parties)
    concern = {"level": "imminent", "toward": "self", "notes": ""}
    raised = await post_action(parties.insurer, claim["claim_id"], "safety-concern", concern)
    assert raised.status_code == 200, raised.text
    case_id = f"{claim['workflow_id']}-safety-1"
    forged = {"clinician_id": "dr-nobody", "acted_by": {"role": "clinician", "key_id": "k-x"}}
    sre = await api.key(Role.SRE)
    async with served(api) as url:
        cli = temporal(dev_address(dev_env), (f"{url}/codec", f"Bearer {sre}"))
        code, out, err = await cli("workflow", "update", "execute",
                                   "--workflow-id", case_id, "--name", "safety-ack",
                                   "--input", json.dumps(forged))  # fmt: skip
    assert code != 0 and refused_because(out + err, Reason.MISSING), out + err
    assert await accepted_updates(dev_env.client, case_id) == []
    ack = await post_action(parties.clinician, claim["claim_id"], "safety-ack",
                            {"clinician_id": "dr-on-call"})  # fmt: skip
    assert ack.status_code == 200, ack.text
    assert len(await accepted_updates(dev_env.client, case_id)) == 1


async def test_an_envelope_from_history_is_refused_on_another_claim_and_as_another_update(
    api: ApiHarness, parties: Parties, dev_env: WorkflowEnvironment, pool: asyncpg.Pool
):
    """Accepted Updates keep their request (header included) in the history, for anyone who
    reads it: replayed to another claim, or as a new Update of the same claim, it is refused."""
    client = dev_env.client
    first, second = await asyncio.gather(booked_claim(parties), booked_claim(parties))
    withdrawn = await post_action(parties.insurer, first["claim_id"], "withdraw",
                                  {"reason": "claimant settled"})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    [taken] = await accepted_updates(client, first["workflow_id"])
    request = taken.workflow_execution_update_accepted_event_attributes.accepted_request
    assert request.input.name == "withdraw" and HEADER in request.input.header.fields
    before = await snapshot(client, pool, second)

    # The very request (its envelope, its sealed argument, its id), to the other claim.
    refusal = await send_raw(client, second["workflow_id"], request)
    assert refusal is not None and refused_because(refusal, Reason.SIGNATURE), refusal
    # Through the CLI alone: the envelope copied into --headers, the sealed argument as it is.
    envelope = request.input.header.fields[HEADER].data.decode()
    [sealed] = request.input.args.payloads
    meta = [f"{key}={value.decode()}" for key, value in sealed.metadata.items()]
    plain = temporal(dev_address(dev_env))
    code, out, err = await plain("workflow", "update", "execute",
                                 "--workflow-id", second["workflow_id"], "--name", "withdraw",
                                 "--input", base64.b64encode(sealed.data).decode(),
                                 "--input-base64", *[f"--input-meta={m}" for m in meta],
                                 "--headers", f"{HEADER}={envelope}")  # fmt: skip
    # Refused (the reason, sealed, is for those with the codec: the same as the SDK's above).
    assert code != 0 and f"type: {ACTION_NOT_ALLOWED}" in err, out + err
    assert await snapshot(client, pool, second) == before

    # On the same claim: a legitimate, repeatable action; its request again under a new id is
    # refused, and under its own id Temporal answers the first outcome without running it again.
    concern = await post_action(parties.insurer, second["claim_id"], "safety-concern",
                                {"level": "moderate", "toward": "self", "notes": ""})  # fmt: skip
    assert concern.status_code == 200, concern.text
    [legitimate] = await accepted_updates(client, second["workflow_id"])
    request = legitimate.workflow_execution_update_accepted_event_attributes.accepted_request
    before = await snapshot(client, pool, second)
    renamed = Request()
    renamed.CopyFrom(request)
    renamed.meta.update_id = "replayed-under-a-new-id"
    refusal = await send_raw(client, second["workflow_id"], renamed)
    assert refusal is not None and refused_because(refusal, Reason.SIGNATURE), refusal
    assert await send_raw(client, second["workflow_id"], request) is None
    assert await snapshot(client, pool, second) == before


async def test_plaintext_actions_are_refused_even_when_signed(
    api: ApiHarness, parties: Parties, dev_env: WorkflowEnvironment, pool: asyncpg.Pool
):
    client = dev_env.client
    claim = await booked_claim(parties)
    before = await snapshot(client, pool, claim)
    withdrawal = {"reason": "claimant settled", "acted_by": {"role": "ops", "key_id": "k-ops"}}
    plain = temporal(dev_address(dev_env))  # no codec: the argument goes as plain JSON
    code, out, err = await plain("workflow", "update", "execute",
                                 "--workflow-id", claim["workflow_id"], "--name", "withdraw",
                                 "--input", json.dumps(withdrawal))  # fmt: skip
    assert code != 0 and f"type: {ACTION_NOT_ALLOWED}" in err, out + err
    # ... also when it claims the mark the worker's codec puts on what it decrypted.
    code, out, err = await plain("workflow", "update", "execute",
                                 "--workflow-id", claim["workflow_id"], "--name", "withdraw",
                                 "--input", json.dumps(withdrawal),
                                 "--input-meta", f"{OPENED}=test-1")  # fmt: skip
    assert code != 0 and f"type: {ACTION_NOT_ALLOWED}" in err, out + err
    assert await snapshot(client, pool, claim) == before

    # Signed with the key: the refusal is the plaintext rule's, not the envelope's.
    ring = KeyRing.parse(TEST_CODEC_KEYS)
    payload = parse_action(Action.WITHDRAW, {"reason": "x"}, Caller(role=Role.OPS, key_id="k"))
    for mark in (False, True):
        config = client.config()
        config["data_converter"] = replace(
            data_converter(ring), payload_codec=PlaintextOut(ring, mark)
        )
        config["interceptors"] = [ActionSigner(KEYS)]
        handle = Client(**config).get_workflow_handle(claim["workflow_id"])
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(Action.WITHDRAW, payload)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == ACTION_NOT_ALLOWED
        assert refused_because(cause.message, Reason.PLAINTEXT), cause.message
    assert await snapshot(client, pool, claim) == before
    status = (await parties.insurer.get(f"/v1/claims/{claim['claim_id']}")).json()
    assert status["status"] == "open"


async def test_an_api_whose_key_the_workers_do_not_hold_answers_503_and_changes_nothing(
    api: ApiHarness, parties: Parties, dev_env: WorkflowEnvironment, pool: asyncpg.Pool
):
    claim = await booked_claim(parties)
    before = await snapshot(dev_env.client, pool, claim)
    config = dev_env.client.config()
    config["interceptors"] = [ActionSigner(SigningKeys(["another-key-" + "x" * 32]))]
    service = ClaimService(pool, Client(**config), api.settings, TEST_SEALER)
    ops = Caller(role=Role.OPS, key_id="k-ops")
    with pytest.raises(Unavailable):
        await service.act(claim["claim_id"], Action.WITHDRAW, {"reason": "x"}, ops)
    assert await snapshot(dev_env.client, pool, claim) == before
