"""Booking an examiner: the scheduling loop of the main loop, and ops' `assign`.

One booking at a time per claim: `lock` is held while a slot is reserved and published. Actions
on the appointment (confirm, decline, reschedule, assign) take the same lock, so an action that
arrives mid-booking waits for the booking to finish instead of being refused, then checks again
that it is still allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from temporalio import workflow

from workflows.clock import DeadlineClock
from workflows.effects import Effects, Notice
from workflows.generation import Generation
from workflows.preparing import Preparing
from workflows.recorder import Recorder
from workflows.selecting import Selecting

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import (
        AppointmentRef,
        Caller,
        ClaimIntake,
        ExaminerRef,
        ExaminerSearch,
        ScheduleRequest,
        Stage,
    )
    from domain.names import (
        NOTICE_START,
        RECORDS_START,
        Actor,
        AppointmentStatus,
        DeadlineName,
        EventType,
        PassOverRule,
        Recipient,
        Template,
    )


@dataclass(frozen=True)
class _Reserved:
    attempt: int
    examiner: ExaminerRef
    appointment: AppointmentRef
    replaced: AppointmentRef | None
    replaced_examiner_id: str | None
    notices: tuple[Notice, ...]


class Booking:
    def __init__(
        self,
        state: ClaimState,
        intake: ClaimIntake,
        effects: Effects,
        recorder: Recorder,
        clock: DeadlineClock,
        generation: Generation,
        preparing: Preparing,
    ) -> None:
        self._state = state
        self._intake = intake
        self._effects = effects
        self._recorder = recorder
        self._clock = clock
        self._preparing = preparing
        # Claims that batch their notifications tell the parties with the booking's record.
        self._batched = generation.batched_notices
        self.lock = asyncio.Lock()
        # Why the last attempt booked nobody (examiner by examiner), for ops' refusal message.
        self._last_search: ExaminerSearch | None = None
        # Whom to book, where the state picks (its actions are registered with it).
        self.selecting = Selecting(
            state,
            intake,
            recorder,
            clock,
            generation,
            book=self.book,
            last_search=lambda: self._last_search,
            refusal=self.assign_refusal,
        )

    def assign_refusal(self) -> str:
        """Why ops' pick could not be booked (their own examiner id is not echoed)."""
        return _assign_refusal(self._last_search)

    async def schedule(self) -> None:
        """Book an examiner; without an eligible one, tell ops once and retry with backoff."""
        state = self._state
        base = state.require_profile().scheduling_retry.as_timedelta()
        retry = base
        while state.needs_booking:
            if self.selecting.waits():  # the state picks, and has not yet
                await self.selecting.wait()
                return
            # An ops assignment may be booking right now: never book twice.
            await workflow.wait_condition(lambda: not self.lock.locked())
            if not state.needs_booking or await self.book(wanted=lambda: state.needs_booking):
                continue
            if state.stage is not Stage.SCHEDULING:
                return
            if await self.selecting.cannot_take(self._last_search):
                return  # the state's examiner is refused: ops go back to the state
            if not state.awaiting_examiner:
                state.awaiting_examiner = True
                attempt = state.booking_attempts
                # Ops see why: each examiner of the specialty and the rule that excluded them.
                # The status shows the search recorded here (later retries record nothing, so
                # what callers read never differs from the workflow).
                state.examiner_search = self._last_search
                why = _why(state.examiner_search)
                told = Notice(
                    Recipient.OPS, Template.NO_EXAMINER_AVAILABLE, f"no-examiner-{attempt}", why
                )
                await self._recorder.record(
                    EventType.NO_EXAMINER_AVAILABLE,
                    notify=[told],
                    attempt=attempt,
                    passed_over=why.get("passed_over", []),
                    without_specialty=why.get("without_specialty"),
                )
            await self._clock.wait_while(lambda: state.needs_booking, retry)
            retry = min(retry * 2, base * 8)

    async def book(
        self,
        *,
        wanted: Callable[[], bool],
        examiner_id: str | None = None,
        acted_by: Caller | None = None,
    ) -> bool:
        """Reserve a slot (with `examiner_id` when ops assign one), tell the parties, publish the
        booking and record it. False when no eligible examiner has a slot; True otherwise, also
        when the booking was no longer `wanted` once this call's turn came (nothing done)."""
        async with self.lock:
            if not wanted():
                return True
            reserved = await self._reserve(examiner_id)
        if not isinstance(reserved, _Reserved):
            return reserved
        notify = list(reserved.notices) if self._batched else []
        if reserved.replaced is not None:
            replaced = reserved.replaced.id
            await self._recorder.change_appointment(replaced, AppointmentStatus.CANCELLED)
            notify.append(
                Notice(
                    Recipient.EXAMINER,
                    Template.APPOINTMENT_CANCELLED,
                    f"replaced-{replaced}",
                    {"examiner_id": reserved.replaced_examiner_id},
                )
            )
        assigned = examiner_id is not None
        await self._recorder.record(
            EventType.EXAMINER_ASSIGNED if assigned else EventType.APPOINTMENT_BOOKED,
            actor=Actor.OPS if assigned else Actor.SYSTEM,
            acted_by=acted_by,
            notify=notify,
            examiner_id=reserved.examiner.id,
            starts_at=reserved.appointment.starts_at.isoformat(),
            attempt=reserved.attempt,
        )
        return True

    async def _reserve(self, examiner_id: str | None) -> _Reserved | bool:
        """Book the slot and tell the claimant and the examiner; publish it (with its
        confirmation deadline) only if the claim still wants it, else release it at once
        (True). False when no eligible examiner has a slot."""
        state = self._state
        profile = state.require_profile()
        attempt = state.next_booking_attempt()
        if examiner_id is None and state.selection.by_state:
            examiner_id = state.selection.examiner_id  # the state's, never the vendor's pick
            if examiner_id is None:  # (the loop waits for the state first: never here)
                self._last_search = None
                return False
        result = await self._effects.book(
            self._request(attempt, await self._earliest_start(), examiner_id)
        )
        if not (result.booked and result.examiner and result.appointment):
            self._last_search = result.search
            return False
        examiner, appointment = result.examiner, result.appointment
        prepares = self._preparing.applies()
        records_due = await self._preparing.records_due(appointment) if prepares else {}
        due = await self._clock.due_from(
            workflow.now(), {DeadlineName.APPOINTMENT_CONFIRMATION: profile.confirm_due}
        )
        step = f"appointment-{attempt}"
        told = {"examiner_id": examiner.id, "appointment_id": appointment.id}
        notices: tuple[Notice, ...] = (
            Notice(Recipient.CLAIMANT, Template.APPOINTMENT_NOTICE, step, told),
            Notice(Recipient.EXAMINER, Template.APPOINTMENT_REQUEST, step, told),
        )
        if profile.records_lead is not None:
            # Ops send the records; the booking left them the lead before the exam to do it.
            records = {**told, "starts_at": appointment.starts_at.isoformat()}
            notices += (Notice(Recipient.OPS, Template.RECORDS_TO_EXAMINER, step, records),)
        if prepares:
            notices = self._preparing.notices(examiner, appointment, notices)
        if state.stage is Stage.SCHEDULING and not self._batched:
            for notice in notices:
                await self._effects.send(self._effects.notification(notice))
        if state.stage is not Stage.SCHEDULING:
            # Withdrawn while the slot was being booked: release it.
            await self._effects.set_appointment_status(appointment.id, AppointmentStatus.CANCELLED)
            return True
        # Published only now, with its deadline: actions on the appointment need it complete.
        replaced_examiner = state.examiner.id if state.examiner else None
        replaced = state.publish_booking(examiner, appointment, workflow.now())
        state.set_deadlines(due, workflow.now())
        self._preparing.start_records_lead(appointment, records_due)
        return _Reserved(attempt, examiner, appointment, replaced, replaced_examiner, notices)

    async def _earliest_start(self) -> datetime:
        """The claimant's notice lead and the examiner's records lead (TX-DD: records at least
        3 business days before the exam) both run from now: the exam starts after the longer."""
        profile = self._state.require_profile()
        leads = {NOTICE_START: profile.notice_lead, RECORDS_START: profile.records_lead}
        wanted = {name: lead for name, lead in leads.items() if lead is not None}
        if not wanted:
            return workflow.now()
        return max((await self._clock.due_from(workflow.now(), wanted)).values())

    def _request(
        self, attempt: int, earliest: datetime, examiner_id: str | None
    ) -> ScheduleRequest:
        state, profile = self._state, self._state.require_profile()
        claimant = self._intake.claimant
        # Claims started with a conflict key send it; older ones send what it is derived from.
        identity = (
            {"claimant_key": self._intake.claimant_key}
            if self._intake.claimant_key
            else {"claimant_name": claimant.full_name, "claimant_dob": claimant.date_of_birth}
        )
        return ScheduleRequest(
            claim_id=state.claim_id,
            attempt=attempt,
            specialty=self._intake.requested_specialty,
            licence_state=state.calendar_state,
            treating_provider_npis=claimant.treating_provider_npis,
            earliest_start=earliest,
            duration_seconds=int(profile.exam_duration.as_timedelta().total_seconds()),
            business_hours=profile.business_hours,
            timezone=profile.timezone,
            exclude_examiner_ids=state.excluded_examiners,
            latest_start=state.exam_window_ends,
            only_examiner_id=examiner_id,
            lineage=self._effects.current_lineage(),
            **identity,
        )


def _why(search: ExaminerSearch | None) -> dict[str, object]:
    """The search as event and inbox details: examiner ids and rule names only."""
    if search is None:
        return {}
    return {
        "passed_over": [
            {"examiner_id": p.examiner_id, "rule": p.rule.value} for p in search.passed_over
        ],
        "without_specialty": search.without_specialty,
    }


# What ops are told when the examiner they chose cannot take the claim (the id is theirs: not
# echoed).
_RULES_IN_WORDS = {
    PassOverRule.SPECIALTY: "does not hold the requested specialty",
    PassOverRule.INACTIVE: "is not active on the panel",
    PassOverRule.LICENCE: "is not licensed in the claim's state",
    PassOverRule.OFF_THIS_CLAIM: "declined, let lapse or was replaced on this claim",
    PassOverRule.CONFLICT: "has a conflict with the claimant (treats or examined them)",
    PassOverRule.CAPACITY: "has no capacity left",
    PassOverRule.NO_SLOT: "has no free slot within the exam window",
    PassOverRule.AWAY: "is away on every free slot within the exam window",
}


def _assign_refusal(search: ExaminerSearch | None) -> str:
    rules = [p.rule for p in search.passed_over] if search else []
    if not rules:
        return "that examiner cannot take this claim: not on the panel"
    return f"that examiner cannot take this claim: the examiner {_RULES_IN_WORDS[rules[0]]}"
