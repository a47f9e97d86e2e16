"""What people write when they act is part of the claim's record (real app, dev server, real
Postgres): a reason is stored sealed with its event, outlives the workflow's history, and is shown
to those who may read it (ops, the claim's insurer, whoever wrote it), never to others."""

from __future__ import annotations

import asyncio
import base64

import asyncpg
import pytest

from codec import CodecError, KeyRing, Sealer
from domain.names import Role
from store.claims import note_binding
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_CODEC_KEYS
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import post_action, wait_until

RESCHEDULED = "Claimant's daughter is in hospital — «back next week»"
WITHDRAWN = "Settled at mediation on 3 Dec"


def noted(events: list[dict], kind: str) -> list[str | None]:
    return [e.get("note") for e in events if e["type"] == kind]


async def test_reasons_are_kept_sealed_with_their_event_and_shown_to_their_readers(
    api: ApiHarness, pool: asyncpg.Pool
):
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops = await api.as_role(Role.OPS)
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    first = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    moved = await post_action(
        insurer, claim_id, "reschedule", {"reason": RESCHEDULED, "requested_by": "claimant"}
    )
    assert moved.status_code == 200, moved.text
    booked = await wait_until(
        insurer,
        claim_id,
        lambda c: (
            c["appointment"] is not None and c["appointment"]["id"] != first["appointment"]["id"]
        ),
    )
    examiner = await api.as_role(Role.EXAMINER, examiner=booked["examiner"]["id"])

    # The insurer wrote it and reads it; ops read it; the examiner sees the event, not the note.
    for caller in (insurer, ops):
        events = (await caller.get(f"/v1/claims/{claim_id}/events")).json()
        assert noted(events, "appointment_rescheduled") == [RESCHEDULED]
    seen = (await examiner.get(f"/v1/claims/{claim_id}/events")).json()
    assert noted(seen, "appointment_rescheduled") == [None]
    assert RESCHEDULED not in str(seen)
    # Events without a written reason carry none.
    assert noted(seen, "appointment_booked") == [None, None]

    # Sealed at rest, bound to its event: neither readable nor movable without the key ring.
    row = await pool.fetchrow(
        "SELECT n.lineage, n.seq, n.sealed_note FROM claim_event_notes n"
        " JOIN claim_events e USING (claim_id, lineage, seq)"
        " WHERE claim_id = $1 AND e.type = 'appointment_rescheduled'",
        claim_id,
    )
    assert row is not None
    sealed = bytes(row["sealed_note"])
    assert RESCHEDULED.encode() not in sealed and b"hospital" not in sealed
    binding = note_binding(claim_id, row["lineage"], row["seq"])
    assert api.app.state.sealer.open(sealed, binding).decode() == RESCHEDULED
    with pytest.raises(CodecError):
        api.app.state.sealer.open(sealed, note_binding(claim_id, row["lineage"], row["seq"] + 1))
    # The same key ids with other keys: what someone with the database but not the ring has.
    ids = [part.split(":")[0] for part in TEST_CODEC_KEYS.split(",")]
    zero = base64.b64encode(bytes(32)).decode()
    stranger = Sealer(KeyRing.parse(",".join(f"{key_id}:{zero}" for key_id in ids)))
    with pytest.raises(CodecError):
        stranger.open(sealed, binding)

    # The withdrawal's reason, to the same readers; the claim closed, it is still there.
    closed = await post_action(insurer, claim_id, "withdraw", {"reason": WITHDRAWN})
    assert closed.status_code == 200, closed.text
    await wait_until(ops, claim_id, lambda c: c["status"] == "closed")
    events = (await ops.get(f"/v1/claims/{claim_id}/events")).json()
    assert noted(events, "claim_withdrawn") == [WITHDRAWN]
    written = {"appointment_rescheduled", "claim_withdrawn"}
    assert [e["note"] for e in events if e["type"] not in written] == [None] * (len(events) - 2)


CLINICAL = "ZqxClinical: safety plan agreed, brother present; follow-up with GP Monday"


async def test_a_clinicians_resolution_notes_are_kept_for_clinicians_only(
    api: ApiHarness, pool: asyncpg.Pool
):
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops = await api.as_role(Role.OPS)
    clinician = await api.as_role(Role.CLINICIAN)
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    concern = {"level": "imminent", "toward": "self", "notes": "stated a plan"}
    assert (await post_action(ops, claim_id, "safety-concern", concern)).status_code == 200
    await wait_until(ops, claim_id, lambda c: c["safety_hold"])
    ack = await post_action(clinician, claim_id, "safety-ack", {"clinician_id": "dr-on-call"})
    assert ack.status_code == 200, ack.text
    resolution = {"actions_taken": ["warm_handoff"], "notes": CLINICAL}
    resolved = await post_action(clinician, claim_id, "safety-resolve", resolution)
    assert resolved.status_code == 200, resolved.text

    async def resolved_step(caller) -> dict:
        for _ in range(100):
            events = (await caller.get(f"/v1/claims/{claim_id}/events")).json()
            steps = [e for e in events if e["type"] == "safety_case_resolved"]
            if steps:
                return steps[0]
            await asyncio.sleep(0.1)
        raise AssertionError("the resolution never reached the timeline")

    # The clinician reads their notes with the step; ops see the step and what was done, not
    # the notes; the insurer sees neither (the safety ladder is not theirs).
    assert (await resolved_step(clinician))["note"] == CLINICAL
    seen_by_ops = await resolved_step(ops)
    assert seen_by_ops["note"] is None and seen_by_ops["details"]["actions_taken"] == [
        "warm_handoff"
    ]
    insurers = (await insurer.get(f"/v1/claims/{claim_id}/events")).json()
    assert "safety_case_resolved" not in [e["type"] for e in insurers]
    assert "ZqxClinical" not in str(insurers)
    # Sealed at rest.
    stored = await pool.fetchval(
        "SELECT sealed_note FROM safety_case_notes WHERE claim_id = $1", claim_id
    )
    assert stored is not None and b"ZqxClinical" not in bytes(stored)
    withdrawn = await post_action(insurer, claim_id, "withdraw", {"reason": "test done"})
    assert withdrawn.status_code == 200, withdrawn.text
