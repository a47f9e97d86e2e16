"""Activities of the claim workflow.

All are at-least-once: each write is keyed (claim + sequence, claim + attempt, notification key)
so a retry never duplicates a row, an appointment or a message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from temporalio import activity

from codec import Sealer
from domain.deadlines import due_at
from domain.ids import claimant_key
from domain.models import Notification, ProjectionWrite, SafetyCaseWrite, ScheduleRequest, payloads
from domain.names import ActivityName
from domain.profiles import JurisdictionProfile, get_profile
from domain.quality import qa_findings, recommendation_for
from observability.logs import get_logger
from store import case_events, outbox
from store import claims as claims_store
from store import panel as panel_store

# Lines carry the workflow run and the claim (bound by observability.temporal.ActivityLogContext).
log = get_logger("ime.activities")


class ClaimActivities:
    def __init__(self, pool: asyncpg.Pool, id_secret: str, sealer: Sealer) -> None:
        self._pool = pool
        self._id_secret = id_secret
        # Seals what the outbox keeps of notifications (they can hold clinical notes).
        self._sealer = sealer

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool its writes go to (the retention activities share it)."""
        return self._pool

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_profile,
            self.compute_deadlines,
            self.record_transition,
            self.schedule_exam,
            self.set_appointment_status,
            self.notify,
            self.assess_report,
            self.record_safety_case_events,
        ]

    @activity.defn(name=ActivityName.LOAD_PROFILE)
    async def load_profile(self, name: str) -> JurisdictionProfile:
        # An activity, so the profile a claim started with is fixed in its history.
        return get_profile(name)

    @activity.defn(name=ActivityName.COMPUTE_DEADLINES)
    async def compute_deadlines(self, req: payloads.DeadlineRequest) -> payloads.DeadlineResult:
        return payloads.DeadlineResult(
            due={
                name: due_at(req.start, duration, state=req.state, tz=req.timezone)
                for name, duration in req.durations.items()
            }
        )

    @activity.defn(name=ActivityName.RECORD_TRANSITION)
    async def record_transition(self, write: ProjectionWrite) -> bool:
        async with self._pool.acquire() as conn:
            applied = await claims_store.apply_projection(conn, write, self._sealer)
        # Ids and names only: the status and the event's details stay out of the log.
        log.info(
            "transition recorded" if applied else "transition already recorded",
            event_type=write.event.type.value,
            seq=write.event.seq,
            stage=write.event.stage.value,
        )
        return applied

    @activity.defn(name=ActivityName.SCHEDULE_EXAM)
    async def schedule_exam(self, req: ScheduleRequest) -> payloads.ScheduleResult:
        key = req.claimant_key or self._claimant_key(req)
        async with self._pool.acquire() as conn:
            booked = await panel_store.book(conn, req, key)
            if booked is None:
                why = await panel_store.search(conn, req, key, at=datetime.now(UTC))
                return payloads.ScheduleResult(booked=False, search=why)
        examiner, appointment = booked
        return payloads.ScheduleResult(booked=True, examiner=examiner, appointment=appointment)

    def _claimant_key(self, req: ScheduleRequest) -> str:
        # Claims started before the key was computed at intake send what it derives from.
        assert req.claimant_name is not None and req.claimant_dob is not None
        return claimant_key(self._id_secret, req.claimant_name, req.claimant_dob.isoformat())

    @activity.defn(name=ActivityName.SET_APPOINTMENT_STATUS)
    async def set_appointment_status(self, change: payloads.AppointmentStatusChange) -> None:
        await panel_store.set_appointment_status(self._pool, change.appointment_id, change.status)

    @activity.defn(name=ActivityName.ASSESS_REPORT)
    async def assess_report(
        self, req: payloads.ReportAssessmentRequest
    ) -> payloads.ReportAssessment:
        return payloads.ReportAssessment(
            findings=qa_findings(req.report, req.question_count),
            recommendation=recommendation_for(req.report),
        )

    @activity.defn(name=ActivityName.NOTIFY)
    async def notify(self, note: Notification) -> bool:
        async with self._pool.acquire() as conn:
            return await outbox.enqueue(conn, note, self._sealer)

    @activity.defn(name=ActivityName.RECORD_SAFETY_CASE_EVENTS)
    async def record_safety_case_events(self, write: SafetyCaseWrite) -> bool:
        async with self._pool.acquire() as conn:
            return await case_events.apply(conn, write, self._sealer)
