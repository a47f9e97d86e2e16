"""The examination report: each version stored sealed in the transaction that records it, read per
role through the real app, and the claimant's copy as each jurisdiction profile says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.models import (
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    ConfirmAppointment,
    ExamOutcome,
    ExamReport,
    ProjectionWrite,
    Referral,
    ReportStatus,
    ReportWrite,
    RequestReportCopy,
    ReviewResult,
    Stage,
)
from domain.names import Action, EventType, Role
from store import claims as claims_store
from store import reports
from store.access_log import for_claim
from store.claims import list_events
from tests.helpers.app import ApiHarness
from tests.helpers.claims import act, start_claim, wait_for
from tests.helpers.config import TEST_SEALER
from tests.helpers.histories import keep_history
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.walk import Parties, post_action, walk_to_report_stage

FIRST = "no lifting over 20 lb until re-examined"
SECOND = "no lifting over 10 lb; desk work only"
# The reviewer's reasons: free text that may name the claimant (the marker stands for that).
MARKER = "Zebulon-Quartermaine-7731"
REASONS = [
    "state the restrictions' duration",
    f"reconcile with Dr. {MARKER}'s MRI note of 2026-10-02",
]


# --- through the API: who reads the report, and its versions -----------------------------------


async def test_the_report_is_read_by_the_claims_parties_only_and_keeps_its_versions(
    api: ApiHarness, parties: Parties, pool: asyncpg.Pool
):
    claim = await walk_to_report_stage(parties)
    claim_id = claim["claim_id"]
    url = f"/v1/claims/{claim_id}/report"
    examiner = await api.as_role(Role.EXAMINER, examiner=claim["examiner"]["id"])

    none_yet = await parties.insurer.get(url)
    assert none_yet.status_code == 404
    assert none_yet.json()["error"]["code"] == "report_not_available"

    # The first report goes back for an addendum; the addendum is accepted.
    filed = await post_action(
        examiner, claim_id, "report", complete_report() | {"work_restrictions": FIRST}
    )
    assert filed.status_code == 200 and filed.json()["stage"] == "REVIEW", filed.text
    latest = (await parties.reviewer.get(url)).json()
    assert (latest["version"], latest["kind"], latest["status"]) == (1, "report", "submitted")
    assert latest["report"]["work_restrictions"] == FIRST
    sent_back = await post_action(
        parties.reviewer, claim_id, "review", {"result": "addendum_requested", "reasons": REASONS}
    )
    assert sent_back.json()["stage"] == "REPORT", sent_back.text
    addendum = complete_report() | {"work_restrictions": SECOND}
    assert (await post_action(examiner, claim_id, "report", addendum)).status_code == 200
    accepted = await post_action(parties.reviewer, claim_id, "review", {"result": "accepted"})
    assert accepted.json()["stage"] == "DECISION", accepted.text

    callers = {
        "ops": parties.ops,
        "insurer": parties.insurer,
        "other_insurer": await api.as_role(Role.INSURER, insurer="other-ins"),
        "examiner": examiner,
        "other_examiner": await api.as_role(Role.EXAMINER, examiner="ex-ca-neurology-1"),
        "reviewer": parties.reviewer,
        "clinician": parties.clinician,
        "sre": await api.as_role(Role.SRE),
        "no_key": api.client(None),
    }
    got = {who: (await http.get(url)).status_code for who, http in callers.items()}
    assert got == {
        "ops": 200,
        "insurer": 200,
        "other_insurer": 404,
        "examiner": 200,
        "other_examiner": 404,
        "reviewer": 200,
        # Reads the claim (its safety case), not the report.
        "clinician": 404,
        "sre": 404,
        "no_key": 401,
    }
    assert (await parties.clinician.get(f"/v1/claims/{claim_id}")).status_code == 200
    assert (await parties.clinician.get(url)).json()["error"]["code"] == "not_found"

    body = (await parties.insurer.get(url)).json()
    assert (body["version"], body["kind"], body["status"]) == (2, "addendum", "accepted")
    assert [(v["version"], v["kind"], v["status"]) for v in body["versions"]] == [
        (1, "report", "addendum_requested"),
        (2, "addendum", "accepted"),
    ]
    assert body["report"]["work_restrictions"] == SECOND
    assert body["report"]["diagnoses"] == ["lumbar strain"]
    assert "acted_by" not in body["report"]

    # The reviewer's reasons reach every reader of the report verbatim, with the version they
    # sent back (the insurer reads the report, so its reasons too: REPORT_READERS).
    for who in ("ops", "insurer", "examiner", "reviewer"):
        versions = (await callers[who].get(url)).json()["versions"]
        assert [v["addendum_reasons"] for v in versions] == [REASONS, None], who

    # At rest each version is sealed: not readable without the key ring, readable with it.
    rows = await pool.fetch(
        "SELECT version, sealed, submitted_by FROM claim_reports WHERE claim_id = $1"
        " ORDER BY version",
        claim_id,
    )
    assert [r["version"] for r in rows] == [1, 2]
    for row, restrictions in zip(rows, (FIRST, SECOND), strict=True):
        assert restrictions.encode() not in row["sealed"]
        assert b"lumbar strain" not in row["sealed"]
        assert TEST_SEALER.open_json(row["sealed"])["work_restrictions"] == restrictions
        assert row["submitted_by"]["role"] == "examiner"
        assert row["submitted_by"]["examiner_id"] == claim["examiner"]["id"]
    # Nor is the report's content in the audit timeline; of the reasons, only their count.
    timeline = (await parties.ops.get(f"/v1/claims/{claim_id}/events")).text
    assert FIRST not in timeline and SECOND not in timeline and MARKER not in timeline
    [requested] = [
        e
        for e in (await parties.ops.get(f"/v1/claims/{claim_id}/events")).json()
        if e["type"] == EventType.ADDENDUM_REQUESTED
    ]
    assert requested["details"]["reasons"] == 2
    # The reasons are sealed at rest (bound to their version's row); nothing of them in clear.
    for table in ("claim_reports", "claim_events"):
        dumped = await pool.fetch(
            f"SELECT t::text AS row FROM {table} t WHERE claim_id = $1", claim_id
        )
        assert dumped and not any(MARKER in r["row"] for r in dumped), table
    sealed_reasons = await pool.fetchval(
        "SELECT addendum_reasons FROM claim_reports WHERE claim_id = $1 AND version = 1", claim_id
    )
    assert MARKER.encode() not in sealed_reasons

    # DEMO gives the claimant a copy on acceptance: nothing to request.
    asked = await post_action(parties.insurer, claim_id, "request-report-copy", {})
    assert asked.status_code == 409
    assert asked.json()["error"]["message"] == (
        "under DEMO the claimant's copy of the report is sent automatically; no request is needed"
    )

    # Every read of the report is in the access log, refused ones too.
    logged = {
        (e.entry.role, e.entry.status)
        for e in await for_claim(api.pool, claim_id)
        if e.entry.route == "/v1/claims/{claim_id}/report"
    }
    assert {("insurer", 200), ("clinician", 404), ("sre", 404), ("insurer", 404)} <= logged


# --- the store: idempotent, any order, append-only ---------------------------------------------


def transition(seq: int, event: EventType, report: ReportWrite) -> ProjectionWrite:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC) + timedelta(minutes=seq)
    status = ClaimStatus(
        claim_id="c1",
        workflow_id="ime-claim-c1",
        insurer_id="acme-ins",
        claim_number="WC-1",
        claim_type=ClaimType.WORKERS_COMP,
        jurisdiction="DEMO",
        stage=Stage.REVIEW,
        status="open",
        created_at=at,
        updated_at=at,
        version=seq,
    )
    return ProjectionWrite(
        status=status,
        event=ClaimEvent(claim_id="c1", seq=seq, type=event, stage=Stage.REVIEW, at=at),
        report=report,
    )


def filed(version: int, status: ReportStatus, restrictions: str) -> ReportWrite:
    body = ExamReport.model_validate(complete_report() | {"work_restrictions": restrictions})
    return ReportWrite(version=version, status=status, body=body)


async def stored(pool: asyncpg.Pool) -> list[tuple]:
    rows = await pool.fetch(
        "SELECT version, kind, status, sealed IS NOT NULL AS has_body FROM claim_reports"
        " WHERE claim_id = 'c1' ORDER BY version"
    )
    return [tuple(r) for r in rows]


async def test_retried_and_reordered_writes_leave_one_row_per_version_with_the_newest_status(
    pool: asyncpg.Pool,
):
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    async with pool.acquire() as conn:
        # The store function itself, twice (a retried activity).
        for _ in range(2):
            async with conn.transaction():
                await reports.record(
                    conn, "c1", filed(1, "submitted", FIRST), seq=1, at=at, sealer=TEST_SEALER
                )
        assert await stored(pool) == [(1, "report", "submitted", True)]

        sent_back = ReportWrite(version=1, status="addendum_requested", addendum_reasons=REASONS)
        writes = {
            2: transition(2, EventType.ADDENDUM_REQUESTED, sent_back),
            3: transition(3, EventType.REPORT_SUBMITTED, filed(2, "submitted", SECOND)),
            4: transition(4, EventType.REPORT_ACCEPTED, ReportWrite(version=2, status="accepted")),
        }
        # The verdict on version 2 arrives before version 2 itself; everything is retried.
        for seq in (4, 2, 3, 3, 4, 2):
            await claims_store.apply_projection(conn, writes[seq], TEST_SEALER)
    assert await stored(pool) == [
        (1, "report", "addendum_requested", True),
        (2, "addendum", "accepted", True),
    ]
    current = await reports.current(pool, "c1", TEST_SEALER)
    assert current is not None
    assert (current.version, current.status) == (2, "accepted")
    assert current.report.work_restrictions == SECOND
    assert [(v.version, v.status, v.addendum_reasons) for v in current.versions] == [
        (1, "addendum_requested", REASONS),
        (2, "accepted", None),
    ]

    # A stored body never changes, nor do a version's reasons, and no version goes away; only
    # the status moves.
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("UPDATE claim_reports SET sealed = 'x' WHERE claim_id = 'c1'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute(
            "UPDATE claim_reports SET addendum_reasons = NULL WHERE claim_id = 'c1' AND version = 1"
        )
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM claim_reports WHERE claim_id = 'c1'")


async def test_no_report_stored_reads_as_none(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        # Only a verdict (on a report filed before versions were stored): nothing to show.
        await claims_store.apply_projection(
            conn,
            transition(1, EventType.REPORT_ACCEPTED, ReportWrite(version=1, status="accepted")),
            TEST_SEALER,
        )
    assert await stored(pool) == [(1, "report", "accepted", False)]
    assert await reports.current(pool, "c1", TEST_SEALER) is None


# --- the claimant's copy per jurisdiction profile (time-skipping server) -----------------------


async def claimant_copies(pool: asyncpg.Pool, claim_id: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM notification_outbox"
        " WHERE claim_id = $1 AND recipient = 'claimant' AND template = 'report_copy'",
        claim_id,
    )


async def walk_to_report(env: WorkflowEnvironment, handle: WorkflowHandle) -> ClaimStatus:
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.appointment is not None
    await env.sleep(
        status.appointment.starts_at - await env.get_current_time() + timedelta(seconds=1)
    )
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    return status


async def file_report(handle: WorkflowHandle, **changes: object) -> ClaimStatus:
    return await act(handle, Action.REPORT, ExamReport.model_validate(complete_report() | changes))


async def refusal(handle: WorkflowHandle) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, Action.REQUEST_REPORT_COPY, RequestReportCopy())
    return str(refused.value.cause)


def referral(profile: str) -> Referral:
    return Referral.model_validate(referral_payload(profile))


async def test_the_claimants_copy_is_sent_as_the_profile_says(
    days_env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
):
    # profile -> copies to the claimant once the report is filed, once it is accepted
    expected = {"NY-WC": (1, 1), "DEMO": (0, 1), "FL-WC": (0, 0)}
    refusals = {
        "NY-WC": "under NY-WC the claimant's copy of the report is sent automatically",
        "DEMO": "under DEMO the claimant's copy of the report is sent automatically",
        "FL-WC": "under FL-WC the claimant is not given a copy of the report",
    }
    for profile, (on_filing, on_acceptance) in expected.items():
        handle = await start_claim(days_env.client, referral(profile), task_queue)
        claim_id = (await walk_to_report(days_env, handle)).claim_id
        assert (await file_report(handle)).stage is Stage.REVIEW
        assert await claimant_copies(pool, claim_id) == on_filing, profile
        assert refusals[profile] in await refusal(handle)
        await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
        assert await claimant_copies(pool, claim_id) == on_acceptance, profile
        assert refusals[profile] in await refusal(handle)
        events = [e.type for e in await list_events(pool, claim_id)]
        assert EventType.REPORT_COPY_REQUESTED not in events


def copy_requests(events: list[ClaimEvent]) -> list[dict]:
    return [e.details for e in events if e.type == EventType.REPORT_COPY_REQUESTED]


async def test_on_request_the_copy_goes_once_on_acceptance_or_at_once_if_accepted(
    days_env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
):
    def erisa() -> Referral:
        payload = referral_payload("ERISA-LTD") | {"claim_type": "long_term_disability"}
        return Referral.model_validate(payload)

    # Asked for before the report is accepted: sent when it is.
    early = await start_claim(days_env.client, erisa(), task_queue)
    claim_id = (await walk_to_report(days_env, early)).claim_id
    assert "no report has been filed yet" in await refusal(early)
    # The automatic QA sends the first report back: it is filed (version 1), the stage is REPORT.
    sent_back = await file_report(early, causation=None)
    assert sent_back.stage is Stage.REPORT
    asked = await act(early, Action.REQUEST_REPORT_COPY, RequestReportCopy(reason="by letter"))
    assert asked.stage is Stage.REPORT
    await act(early, Action.REQUEST_REPORT_COPY, RequestReportCopy())  # asked again: no change
    assert copy_requests(await list_events(pool, claim_id)) == [{"sent": False}]
    assert (await file_report(early)).stage is Stage.REVIEW
    assert await claimant_copies(pool, claim_id) == 0
    await act(early, Action.REVIEW, ReviewResult(result="accepted"))
    assert await claimant_copies(pool, claim_id) == 1
    await act(early, Action.REQUEST_REPORT_COPY, RequestReportCopy())
    assert await claimant_copies(pool, claim_id) == 1
    current = await reports.current(pool, claim_id, TEST_SEALER)
    assert current is not None
    # The QA's findings go back with the version it sent back, as a reviewer's reasons do.
    assert [(v.version, v.kind, v.status, v.addendum_reasons) for v in current.versions] == [
        (1, "report", "qa_failed", ["causation: no causation opinion"]),
        (2, "addendum", "accepted", None),
    ]
    assert current.version == 2 and current.report.causation is not None
    await keep_history(early, "erisa_report_copy_requested_early")

    # Asked for once the report is accepted: sent at once, and only once.
    late = await start_claim(days_env.client, erisa(), task_queue)
    claim_id = (await walk_to_report(days_env, late)).claim_id
    await file_report(late)
    await act(late, Action.REVIEW, ReviewResult(result="accepted"))
    assert await claimant_copies(pool, claim_id) == 0
    status = await act(late, Action.REQUEST_REPORT_COPY, RequestReportCopy())
    assert status.stage is Stage.DECISION
    assert await claimant_copies(pool, claim_id) == 1
    await act(late, Action.REQUEST_REPORT_COPY, RequestReportCopy())
    assert await claimant_copies(pool, claim_id) == 1
    assert copy_requests(await list_events(pool, claim_id)) == [{"sent": True}]
