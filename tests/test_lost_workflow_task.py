"""A workflow task that Temporal lost after a step of it was written to Postgres (found by
`make chaos`, temporal-kill, reproduced exactly here).

Under `Patch.LEAN_HISTORY` the transition write ran as a local activity, inside the workflow task
and before Temporal had recorded anything of it. When the task's completion was lost (here: the
worker frozen the instant the review's write commits, the Temporal dev server killed with the
review's update admitted but not yet accepted), the claim replayed from the last recorded task,
met the passed review deadline first and recorded the breach under the sequence number the lost
write had used (dropped by ON CONFLICT; its notifications queued all the same), then the review
again: `report_accepted` twice, no `deadline_breached`. Under `Patch.DURABLE_WRITES` the write is
an activity, scheduled by a task Temporal recorded, so Postgres holds only steps Temporal kept.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from chaos.checks import check_outbox, load
from chaos.driver import Plan
from chaos.faults import paused
from chaos.run import Harness, harness

# A fault run (Temporal killed mid-task): `make chaos` runs it.
pytestmark = [pytest.mark.slow, pytest.mark.long]

TELL_EVENTS = """
CREATE FUNCTION tell_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('event_written', NEW.claim_id || ':' || NEW.type);
    RETURN NEW;
END $$;
CREATE TRIGGER tell_event AFTER INSERT ON claim_events
    FOR EACH ROW EXECUTE FUNCTION tell_event();
"""


@pytest.fixture(scope="module")
async def chaos(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with harness(tmp_path_factory.mktemp("lost-task")) as running:
        yield running


async def act(http: httpx.AsyncClient, claim_id: str, step: str, plan: Plan) -> httpx.Response:
    """The step with its key, sent again after a 5xx or a cut connection."""
    while True:
        try:
            answer = await http.post(
                f"/v1/claims/{claim_id}/actions/{step}",
                json=plan.body(step),
                headers={"Idempotency-Key": plan.key(step, "1")},
            )
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if answer.status_code < 500:
            assert answer.status_code == 200, answer.text
            return answer
        await asyncio.sleep(0.5)


async def test_a_transition_written_in_a_lost_workflow_task_is_not_recorded_twice(
    chaos: Harness,
) -> None:
    ops, reviewer = chaos.clients["ops"], chaos.clients["reviewer"]
    plan = Plan("lt", 0, "approved")
    created = await chaos.clients["insurer"].post("/v1/claims", json=plan.referral())
    claim_id = created.json()["claim_id"]
    async with asyncio.timeout(30):
        while (await ops.get(f"/v1/claims/{claim_id}")).json()["appointment"] is None:
            await asyncio.sleep(0.1)
    confirmed = await act(ops, claim_id, "confirm-appointment", plan)
    starts = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.3)
    await act(ops, claim_id, "exam", plan)
    await act(ops, claim_id, "report", plan)

    conn = await asyncpg.connect(chaos.database_url)
    try:
        await conn.execute(TELL_EVENTS)
        worker = chaos.stack.child("worker")
        frozen = asyncio.Event()

        def written(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            if payload == f"{claim_id}:report_accepted" and not frozen.is_set():
                worker.send_signal(signal.SIGSTOP)  # committed; its workflow task not complete
                frozen.set()

        await conn.add_listener("event_written", written)
        with paused(chaos.stack):  # nothing is restarted until the deadline has passed
            review = asyncio.create_task(act(reviewer, claim_id, "review", plan))
            await asyncio.wait_for(frozen.wait(), 30)
            chaos.stack.child("temporal").send_signal(signal.SIGKILL)
            worker.send_signal(signal.SIGKILL)
            review.cancel()  # its answer is lost; it is sent again below, with the same key
            await asyncio.sleep(12)  # past the review deadline (10 s in DEMO)
        # The review, sent again with its key, gets its one answer once Temporal is back.
        await act(reviewer, claim_id, "review", plan)
        await act(chaos.clients["insurer"], claim_id, "decision", plan)
        async with asyncio.timeout(30):
            while not await conn.fetchval(
                "SELECT 1 FROM claim_events WHERE claim_id = $1 AND type = 'claim_closed'",
                claim_id,
            ):
                await asyncio.sleep(0.2)
        record = (await load(conn, [claim_id]))[claim_id]
    finally:
        await conn.close()
    kinds = Counter(e.type for e in record.events)
    assert kinds["report_accepted"] == 1, [e.type for e in record.events]
    assert [e.seq for e in record.events] == list(range(1, len(record.events) + 1))
    assert check_outbox([record]) == []
