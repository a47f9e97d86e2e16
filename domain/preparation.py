"""What a booked exam needs before it is held, as plain data and pure rules (part of the claim
state; claims run it under the `exam-preparation` patch):

- **the records lead** (TX-DD: the designated doctor has the records at least 3 business days
  before the exam, 28 TAC 127.10(a)): a booking starts the `records_lead` deadline, met when a
  `records` document arrives. Missed, it escalates to ops, and the exam is not held on that
  booking until ops decide to go ahead without the lead (`proceed-without-records`) or
  reschedule it;
- **the interpreter** the referral asks for: the claimant's appointment notice waits until ops
  record that one is booked (`interpreter-booked`), so the notice can say so.

Both are tied to the appointment they were decided for: a new booking starts them again.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.models import AppointmentRef, Deadline
from domain.names import Action, DeadlineName
from domain.profiles import JurisdictionProfile
from domain.refusal import refuse

RECORDS_DEADLINES = (DeadlineName.RECORDS_LEAD, DeadlineName.RECORDS_LEAD_ESCALATION)


class HeldNotice(BaseModel):
    """The claimant's appointment notice held for the interpreter: the notification it becomes."""

    appointment_id: str
    examiner_id: str
    step: str


class ExamPreparation(BaseModel):
    # The first `records` document stored for the claim (any booking: the examiner reads the
    # claim's records in their portal, whoever uploaded them and when).
    records_received_at: datetime | None = None
    # The appointment whose booking started the records lead.
    records_lead_for: str | None = None
    # The appointment ops decided to hold without its records lead.
    proceed_without_records_for: str | None = None
    held_notice: HeldNotice | None = None
    interpreter_booked_for: str | None = None

    def records_lead_missed(
        self, deadlines: dict[DeadlineName, Deadline], appointment: AppointmentRef | None
    ) -> bool:
        """The current booking's records lead passed without its records (even if they came
        later: the lead is what the rule protects), and ops have not decided to go ahead."""
        lead = deadlines.get(DeadlineName.RECORDS_LEAD)
        return (
            lead is not None
            and lead.breached
            and appointment is not None
            and self.records_lead_for == appointment.id
            and self.proceed_without_records_for != appointment.id
        )

    def check(
        self,
        action: Action,
        deadlines: dict[DeadlineName, Deadline],
        appointment: AppointmentRef | None,
        profile: JurisdictionProfile,
    ) -> None:
        """Refuse what preparation forbids now; never changes the state."""
        if action is Action.EXAM and self.records_lead_missed(deadlines, appointment):
            raise refuse(
                "the examiner did not have the records the profile's lead before this exam: ops "
                "decide to go ahead without it (proceed-without-records) or reschedule"
            )
        if action is Action.PROCEED_WITHOUT_RECORDS:
            booked = appointment.id if appointment else None
            if profile.records_lead is None:
                raise refuse(f"{profile.name} sets no records lead")
            if self.records_lead_for is None or self.records_lead_for != booked:
                raise refuse("this booking has no records lead to decide on")
            if self.proceed_without_records_for == booked:
                raise refuse("ops have already decided to hold this exam without the lead")
            lead = deadlines.get(DeadlineName.RECORDS_LEAD)
            if lead is not None and lead.met_at is not None and not lead.breached:
                raise refuse("the records arrived within the lead; the exam goes ahead")
        if action is Action.INTERPRETER_BOOKED:
            held = self.held_notice
            if held is None or appointment is None or held.appointment_id != appointment.id:
                raise refuse("no appointment notice of this booking is waiting for an interpreter")

    def records_arrived(self, deadlines: dict[DeadlineName, Deadline], now: datetime) -> None:
        """A `records` document was stored: the records lead (and its rung) are met."""
        if self.records_received_at is None:
            self.records_received_at = now
        meet_records_lead(deadlines, now)

    def proceed_without_records(
        self, deadlines: dict[DeadlineName, Deadline], appointment: AppointmentRef, now: datetime
    ) -> None:
        self.proceed_without_records_for = appointment.id
        meet_records_lead(deadlines, now)

    def interpreter_booked(self, appointment: AppointmentRef) -> HeldNotice:
        """Ops booked the interpreter: the held notice to send now."""
        held = self.held_notice
        assert held is not None and held.appointment_id == appointment.id
        self.interpreter_booked_for = appointment.id
        self.held_notice = None
        return held


def meet_records_lead(deadlines: dict[DeadlineName, Deadline], now: datetime) -> None:
    for name in RECORDS_DEADLINES:
        deadline = deadlines.get(name)
        if deadline is not None and deadline.met_at is None:
            deadline.met_at = now
