"""Everything a workflow asks of the world, in one place: one retry policy, one timeout table.

Workflows call activities by name (`domain.names.ActivityName`) with the request models of
`domain.models.payloads`, so workflow modules never import a database driver. Every request
carries an idempotency key (claim + sequence, claim + attempt, notification key): activities are
at-least-once and the database drops a repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        Notification,
        ProjectionWrite,
        SafetyCaseWrite,
        ScheduleRequest,
        payloads,
    )
    from domain.names import ActivityName, AppointmentStatus, Recipient, Template
    from domain.profiles import Duration, JurisdictionProfile

# Activities retry until they succeed: a claim waits out a database outage rather than failing.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

# How long one attempt may take before it is retried (start to close).
TIMEOUTS: dict[ActivityName, timedelta] = {
    ActivityName.LOAD_PROFILE: timedelta(seconds=30),
    ActivityName.COMPUTE_DEADLINES: timedelta(seconds=30),
    ActivityName.RECORD_TRANSITION: timedelta(seconds=30),
    ActivityName.SCHEDULE_EXAM: timedelta(seconds=30),
    ActivityName.SET_APPOINTMENT_STATUS: timedelta(seconds=30),
    ActivityName.NOTIFY: timedelta(seconds=30),
    ActivityName.ASSESS_REPORT: timedelta(seconds=30),
    ActivityName.RECORD_SAFETY_CASE_EVENTS: timedelta(seconds=30),
}

# What SREs read beside each activity in the Temporal UI and CLI: the step, never the claimant.
SUMMARIES: dict[ActivityName, str] = {
    ActivityName.LOAD_PROFILE: "load jurisdiction profile",
    ActivityName.COMPUTE_DEADLINES: "compute deadlines",
    ActivityName.RECORD_TRANSITION: "record transition",
    ActivityName.SCHEDULE_EXAM: "book appointment",
    ActivityName.SET_APPOINTMENT_STATUS: "change appointment status",
    ActivityName.NOTIFY: "queue notification",
    ActivityName.ASSESS_REPORT: "check report (QA)",
    ActivityName.RECORD_SAFETY_CASE_EVENTS: "record safety case step",
}

# Short and repeatable, so run inside the workflow task that asks them: one marker event each
# instead of three activity events and a workflow task of their own, and a human step is
# accepted, recorded and answered in one workflow task. Pure computations whose result must still
# be recorded (deadlines on a holiday calendar, the profile, the QA checklist); under
# `Patch.LEAN_HISTORY` alone also the booking (one short transaction, idempotent per claim +
# attempt) and the transition write (one transaction, idempotent per claim + sequence).
# At-least-once like any activity: a worker lost mid-call leaves the workflow task to time out,
# and the next worker runs the call again, which the database turns into a no-op.
LOCAL = frozenset(
    {
        ActivityName.COMPUTE_DEADLINES,
        ActivityName.LOAD_PROFILE,
        ActivityName.ASSESS_REPORT,
        ActivityName.SCHEDULE_EXAM,
        ActivityName.RECORD_TRANSITION,
    }
)

# Writes to Postgres that a later step's replay must not contradict. A local activity runs before
# Temporal has recorded anything of its workflow task: when the server loses that task (a crash
# before the task's completion is stored), the claim replays from the last recorded task and may
# take another step first (a deadline that passed meanwhile), under the sequence number the lost
# write already used. As activities they are scheduled by a recorded task, so Postgres only ever
# holds writes of steps Temporal kept (`Patch.DURABLE_WRITES`).
WRITES = frozenset({ActivityName.SCHEDULE_EXAM, ActivityName.RECORD_TRANSITION})


@dataclass(frozen=True)
class Notice:
    """A notification to make: to whom, which template, on what occasion (`step`)."""

    recipient: Recipient
    template: Template
    step: str
    details: dict[str, Any] = field(default_factory=dict)
    # Held until the claim's safety hold lifts (an adverse notice to a claimant at risk).
    held: bool = False


class Effects:
    """The activities of one claim (or of one safety case, `owner` being its workflow id)."""

    def __init__(
        self,
        claim_id: str,
        *,
        local: frozenset[ActivityName] = frozenset(),
        owner: str | None = None,
        lineage: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.claim_id = claim_id
        # A reset claim's notifications are its lineage's own: the same step after a reset is a
        # new message (a denial after an approval reaches the claimant).
        self._lineage = lineage
        # The activities run as local activities (`Generation.local_activities`); a safety case
        # runs every one as an ordinary activity.
        self._local = local
        # Prefix of notification keys: the claim, or the safety case that sends them.
        self._owner = owner or claim_id

    def current_lineage(self) -> str | None:
        """The reset lineage writes belong to now (None: the claim was never reset)."""
        return self._lineage()

    async def _run(self, name: ActivityName, arg: object, result_type: type | None) -> Any:
        local = name in self._local
        run = workflow.execute_local_activity if local else workflow.execute_activity
        return await run(
            name.value,
            arg,
            start_to_close_timeout=TIMEOUTS[name],
            retry_policy=RETRY,
            result_type=result_type,
            summary=SUMMARIES[name],
        )

    async def load_profile(self, name: str) -> JurisdictionProfile:
        return await self._run(ActivityName.LOAD_PROFILE, name, JurisdictionProfile)

    async def due_from(
        self, start: datetime, durations: dict[str, Duration], *, state: str, timezone: str
    ) -> dict[str, datetime]:
        """Absolute due times of `durations` after `start` (business days on a real calendar,
        computed outside the workflow so a calendar update never changes a replay)."""
        request = payloads.DeadlineRequest(
            start=start, durations=durations, state=state, timezone=timezone
        )
        result = await self._run(ActivityName.COMPUTE_DEADLINES, request, payloads.DeadlineResult)
        return result.due

    async def record(self, write: ProjectionWrite) -> None:
        await self._run(ActivityName.RECORD_TRANSITION, write, bool)

    async def book(self, request: ScheduleRequest) -> payloads.ScheduleResult:
        return await self._run(ActivityName.SCHEDULE_EXAM, request, payloads.ScheduleResult)

    async def set_appointment_status(self, appointment_id: str, status: AppointmentStatus) -> None:
        change = payloads.AppointmentStatusChange(appointment_id=appointment_id, status=status)
        await self._run(ActivityName.SET_APPOINTMENT_STATUS, change, None)

    async def assess_report(
        self, request: payloads.ReportAssessmentRequest
    ) -> payloads.ReportAssessment:
        # Rules run in an activity: a checklist change never alters a replayed claim.
        return await self._run(ActivityName.ASSESS_REPORT, request, payloads.ReportAssessment)

    async def notify(
        self,
        recipient: Recipient,
        template: Template,
        step: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Queue a message now, on its own; `step` names the occasion, so each is queued once
        whatever retries. (Notifications of a transition ride with it: `Recorder.record`.)"""
        await self.send(self.notification(Notice(recipient, template, step, details or {})))

    async def send(self, note: Notification) -> None:
        await self._run(ActivityName.NOTIFY, note, bool)

    async def record_case(self, write: SafetyCaseWrite) -> None:
        """A safety case's steps with their notifications, in one transaction."""
        await self._run(ActivityName.RECORD_SAFETY_CASE_EVENTS, write, bool)

    def notification(self, notice: Notice) -> Notification:
        tag = self.current_lineage()
        owner = f"{self._owner}@{tag}" if tag else self._owner
        return Notification(
            key=f"{owner}:{notice.recipient}:{notice.template}:{notice.step}",
            claim_id=self.claim_id,
            recipient=notice.recipient,
            template=notice.template,
            details=notice.details,
            held=notice.held,
        )
