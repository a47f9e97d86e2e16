"""The store against a real embedded Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from domain.models import (
    AppointmentStatusChange,
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    Notification,
    ProjectionWrite,
    ScheduleRequest,
    Specialty,
    Stage,
)
from domain.names import EventType, Recipient, Template
from store import claims as claims_store
from store import outbox, panel
from store.bootstrap import bootstrap_db
from store.migrate import migration_files
from tests.helpers.config import TEST_SEALER, claim_activities
from tests.helpers.probes import appointment_status, inbox_items, notices


def status_at(version: int, stage: Stage = Stage.SCHEDULING) -> ClaimStatus:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    return ClaimStatus(
        claim_id="c1",
        workflow_id="ime-claim-c1",
        insurer_id="acme-ins",
        claim_number="WC-1",
        claim_type=ClaimType.WORKERS_COMP,
        jurisdiction="NY-WC",
        stage=stage,
        status="open",
        created_at=now,
        updated_at=now + timedelta(seconds=version),
        version=version,
    )


def write(version: int, stage: Stage = Stage.SCHEDULING) -> ProjectionWrite:
    status = status_at(version, stage)
    return ProjectionWrite(
        status=status,
        event=ClaimEvent(
            claim_id="c1",
            seq=version,
            type=list(EventType)[version % len(EventType)],
            stage=stage,
            at=status.updated_at,
        ),
    )


async def test_bootstrap_applies_migrations_and_seeds_once_however_often_it_runs(postgres):
    admin = await asyncpg.connect(postgres.url())
    await admin.execute("DROP DATABASE IF EXISTS migrate_twice")
    await admin.execute("CREATE DATABASE migrate_twice")
    conn = await asyncpg.connect(postgres.url("migrate_twice"))
    try:
        first = await bootstrap_db(conn)
        second = await bootstrap_db(conn)
        assert first.migrations_applied == [p.stem for p in migration_files()]
        assert second.migrations_applied == []
        versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in versions] == first.migrations_applied
        examiners = await conn.fetchval("SELECT count(*) FROM examiners")
        assert examiners == first.examiners_seeded == second.examiners_seeded == 60
    finally:
        await conn.close()
        await admin.execute("DROP DATABASE migrate_twice WITH (FORCE)")
        await admin.close()


async def test_projection_write_replayed_with_same_sequence_leaves_one_row(pool):
    async with pool.acquire() as conn:
        assert await claims_store.apply_projection(conn, write(1), TEST_SEALER) is True
        assert await claims_store.apply_projection(conn, write(1), TEST_SEALER) is False
        assert await claims_store.apply_projection(conn, write(1), TEST_SEALER) is False
    rows = await pool.fetch("SELECT seq FROM claim_events WHERE claim_id = 'c1'")
    assert [r["seq"] for r in rows] == [1]
    assert await pool.fetchval("SELECT count(*) FROM claims WHERE claim_id = 'c1'") == 1


async def test_out_of_order_projection_writes_keep_the_newest_status(pool):
    async with pool.acquire() as conn:
        await claims_store.apply_projection(conn, write(2, Stage.EXAM), TEST_SEALER)
        await claims_store.apply_projection(conn, write(1, Stage.SCHEDULING), TEST_SEALER)
    status = await claims_store.get_status(pool, "c1")
    assert status is not None and (status.version, status.stage) == (2, Stage.EXAM)
    events = await claims_store.list_events(pool, "c1")
    assert [e.seq for e in events] == [1, 2]


async def test_audit_log_is_append_only(pool):
    async with pool.acquire() as conn:
        await claims_store.apply_projection(conn, write(1), TEST_SEALER)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("UPDATE claim_events SET type = 'forged' WHERE claim_id = 'c1'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM claim_events WHERE claim_id = 'c1'")


def schedule_request(claim_id: str, **overrides) -> ScheduleRequest:
    values = {
        "claim_id": claim_id,
        "attempt": 1,
        "specialty": Specialty.NEUROLOGY,
        "licence_state": "TX",
        "claimant_name": "Test Person",
        "claimant_dob": "1970-01-01",
        "earliest_start": datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        "duration_seconds": 3600,
        "business_hours": True,
        "timezone": "America/Chicago",
    } | overrides
    return ScheduleRequest.model_validate(values)


async def test_booking_is_idempotent_and_never_double_books(pool):
    async with pool.acquire() as conn:
        first = await panel.book(conn, schedule_request("a"), "claimant-a")
        again = await panel.book(conn, schedule_request("a"), "claimant-a")
        assert first == again
        # Both TX neurologists are taken for this slot by other claims: the next slot is used.
        second = await panel.book(conn, schedule_request("b"), "claimant-b")
        third = await panel.book(conn, schedule_request("c"), "claimant-c")
    assert first is not None and second is not None and third is not None
    assert first[0].id != second[0].id
    assert third[1].starts_at > first[1].starts_at
    # The database itself refuses an overlapping booking for the same examiner.
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute(
            "INSERT INTO appointments (id, claim_id, attempt, examiner_id, claimant_key,"
            " starts_at, ends_at, location) VALUES ('x:1', 'x', 1, $1, 'k', $2, $3, 'here')",
            first[0].id,
            first[1].starts_at + timedelta(minutes=30),
            first[1].ends_at + timedelta(minutes=30),
        )


async def test_matching_excludes_conflicts_licence_and_inactive(pool):
    async with pool.acquire() as conn:
        # A treating provider of the claimant is never their examiner.
        npi = await conn.fetchval("SELECT npi FROM examiners WHERE id = 'ex-tx-neurology-1'")
        booked = await panel.book(
            conn, schedule_request("n1", treating_provider_npis=[npi]), "claimant-n"
        )
        assert booked is not None and booked[0].id == "ex-tx-neurology-2"
        # An examiner who already examined this claimant on another claim is excluded.
        again = await panel.book(
            conn, schedule_request("n2", treating_provider_npis=[]), "claimant-n"
        )
        assert again is not None and again[0].id == "ex-tx-neurology-1"
        # Both conflicted (one examined, one treats): nobody is eligible.
        assert (
            await panel.book(
                conn, schedule_request("n2b", treating_provider_npis=[npi]), "claimant-n"
            )
            is None
        )
        # No licence in the state: nobody.
        assert await panel.book(conn, schedule_request("n3", licence_state="WY"), "k3") is None
        await conn.execute("UPDATE examiners SET active = false WHERE specialty = 'neurology'")
        assert await panel.book(conn, schedule_request("n4"), "k4") is None


async def test_a_status_stored_before_lateness_was_recorded_reads_with_it(pool):
    """Projection bodies written by earlier versions lack `overdue` and `next_deadline`."""
    async with pool.acquire() as conn:
        await claims_store.apply_projection(conn, write(3, Stage.REPORT), TEST_SEALER)
    legacy = status_at(3, Stage.REPORT).model_dump(mode="json")
    del legacy["overdue"], legacy["next_deadline"]
    late = {"name": "report", "due_at": "2026-11-26T12:05:00Z", "breached": True}
    for breached, overdue in ((True, True), (False, False)):
        legacy["deadlines"] = [late | {"breached": breached}]
        await pool.execute("UPDATE claims SET body = $1 WHERE claim_id = 'c1'", legacy)
        status = await claims_store.get_status(pool, "c1")
        assert status is not None and status.overdue is overdue
        assert (status.next_deadline is None) is breached


async def test_a_batch_whose_last_notification_has_no_delivery_still_wakes_the_dispatchers(pool):
    """Dispatchers sleep on `LISTEN deliveries`; one delivery anywhere in a transition's batch
    must wake them, whatever the notes after it are."""
    woken = asyncio.Event()

    def wake(*_: object) -> None:
        woken.set()

    listener = await pool.acquire()
    await listener.add_listener("deliveries", wake)
    try:
        notes = [
            Notification(
                key="c-wake:claimant:appointment_notice",
                claim_id="c-wake",
                recipient=Recipient.CLAIMANT,
                template=Template.APPOINTMENT_NOTICE,
                details={},
            ),
            Notification(  # an inbox item only: no delivery of its own
                key="c-wake:ops:deadline_breached",
                claim_id="c-wake",
                recipient=Recipient.OPS,
                template=Template.DEADLINE_BREACHED,
                details={},
            ),
        ]
        async with pool.acquire() as conn, conn.transaction():
            assert await outbox.enqueue_in(conn, notes, TEST_SEALER) == [True, True]
        await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await listener.remove_listener("deliveries", wake)
        await pool.release(listener)


async def test_the_transition_activity_retried_writes_everything_once(pool):
    """At-least-once: the worker may run one transition's write several times (a retry after a
    timeout, a local activity re-run after a lost worker), also after a newer one landed."""
    activities = claim_activities(pool)
    env = ActivityEnvironment()
    appointment = "c1:1"
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO appointments (id, claim_id, attempt, examiner_id, claimant_key,
                   starts_at, ends_at, location)
               SELECT $1, 'c1', 1, id, 'k-retry', now() + interval '1 day',
                      now() + interval '1 day 1 hour', 'x'
               FROM examiners LIMIT 1""",
            appointment,
        )
    notes = [
        Notification(
            key=f"c1:{who}:deadline_breached:retry",
            claim_id="c1",
            recipient=who,
            template=Template.DEADLINE_BREACHED,
        )
        for who in (Recipient.OPS, Recipient.EXAMINER)
    ]
    attended = write(2, Stage.REPORT).model_copy(
        update={
            "notifications": notes,
            "appointment_changes": [
                AppointmentStatusChange(appointment_id=appointment, status="attended")
            ],
        }
    )
    assert await env.run(activities.record_transition, write(1)) is True
    assert await env.run(activities.record_transition, attended) is True
    assert await env.run(activities.record_transition, write(3, Stage.REVIEW)) is True
    for retried in (attended, attended, write(1)):  # late retries, older than the newest
        assert await env.run(activities.record_transition, retried) is False
    events = await claims_store.list_events(pool, "c1")
    assert [e.seq for e in events] == [1, 2, 3]
    status = await claims_store.get_status(pool, "c1")
    assert status is not None and (status.version, status.stage) == (3, Stage.REVIEW)
    outboxed, inbox = len(await notices(pool, "c1")), len(await inbox_items(pool, "c1"))
    assert (outboxed, inbox) == (2, 2)
    assert await appointment_status(pool, appointment) == "attended"
