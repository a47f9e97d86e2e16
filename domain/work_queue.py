"""The inbox as a work queue, as data: when each kind of item is done by itself (its step was
taken, by whoever and through whichever door), who is recorded as having done it, and the
queue's order and cursor.

An item closes itself in the transaction that writes the claim transition doing its step
(`store.claims.apply_projection` → `store.inbox.close_done_steps`), judged on the claim's status
as stored after the write (never a stale one arriving late) and on the transition's event. A
kind whose row has no rule is closed only by a person (`POST /v1/inbox/{id}/done`).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.access import PANEL_PARTY_ROLES
from domain.errors import InvalidInput
from domain.models import Caller, ClaimEvent, ClaimStatus, Deadline
from domain.names import DeadlineName, EventType, Stage, Template


@dataclass(frozen=True)
class OpenItem:
    """What the rules read of an open inbox item: its kind, whose it is, its own details and the
    occasion (`step`) of the notification that opened it (the last part of its outbox key,
    e.g. `remind-report-2026-10-01T17:00:00+00:00`, `breach-review-1`, `addendum-2`)."""

    id: str
    kind: str
    role: str
    examiner_id: str | None
    due_at: datetime | None
    details: dict[str, Any]
    step: str
    case_id: str | None = None


def step_of(outbox_key: str, kind: str) -> str:
    """The occasion part of a notification key (`{owner}:{recipient}:{template}:{step}`)."""
    marker = f":{kind}:"
    at = outbox_key.find(marker)
    return outbox_key[at + len(marker) :] if at >= 0 else ""


# --- the rules -----------------------------------------------------------------------------

Rule = Callable[[OpenItem, ClaimStatus, ClaimEvent], bool]


def deadline_named(step: str) -> DeadlineName | None:
    """The deadline a reminder or breach item is about, named in its step (None for others)."""
    rest = step.split("-", 1)[1] if "-" in step else ""
    names = [n for n in DeadlineName if rest == n.value or rest.startswith(f"{n.value}-")]
    return max(names, key=lambda n: len(n.value), default=None)  # report_escalation ⊃ report


def _deadline(item: OpenItem, status: ClaimStatus) -> Deadline | None:
    name = deadline_named(item.step)
    return next((d for d in status.deadlines if d.name == name), None) if name else None


def _reminder_done(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """Its deadline is met, gone, or set again with another due time (a new window)."""
    deadline = _deadline(item, status)
    if deadline is None or deadline.met_at is not None:
        return True
    return item.due_at is not None and deadline.due_at != item.due_at


def _breach_done(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """Its deadline is met, gone, or set again (a re-raised rung: the new breach's item takes
    over, opened in the same transaction)."""
    deadline = _deadline(item, status)
    return deadline is None or deadline.met_at is not None or not deadline.breached


def _appointment_done(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """Confirmed or declined, or the appointment is no longer the claim's (released, expired,
    replaced, another examiner assigned)."""
    if event.type in (EventType.APPOINTMENT_CONFIRMED, EventType.APPOINTMENT_DECLINED):
        return True
    appointment = status.appointment
    return (
        status.stage is not Stage.SCHEDULING
        or appointment is None
        or appointment.id != item.details.get("appointment_id")
    )


def _examiner_booked(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    booked = event.type in (EventType.APPOINTMENT_BOOKED, EventType.EXAMINER_ASSIGNED)
    return booked or status.stage not in (Stage.REFERRAL, Stage.SCHEDULING)


def _records_moot(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The records arrived (a `records` document stored: the examiner reads it in their
    portal), or it is moot: the exam is past or the appointment no longer the claim's."""
    if event.type is EventType.RECORDS_RECEIVED:
        return True
    return _booking_gone(item, status)


def _interpreter_booked(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """Ops recorded the interpreter (the claimant's notice went with it), or the booking is
    gone (a new booking opens a new item)."""
    return event.type is EventType.INTERPRETER_BOOKED or _booking_gone(item, status)


def _state_issued(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The state's panel or assignment is recorded (a replacement opens a new item)."""
    return status.selection is None or status.selection.phase != "awaiting_state"


def _panel_acted_on(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The window is over, or the item's side struck (the insurer's item: the insurer; ops':
    the claimant)."""
    selection = status.selection
    if selection is None or selection.phase != "window":
        return True
    sides = [party for party, role in PANEL_PARTY_ROLES.items() if role.value == item.role]
    return bool(sides) and sides[0] in selection.struck


def _panel_chosen(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    return status.selection is None or status.selection.phase != "choosing"


def _booking_gone(item: OpenItem, status: ClaimStatus) -> bool:
    appointment = status.appointment
    return (
        status.stage not in (Stage.SCHEDULING, Stage.EXAM)
        or appointment is None
        or appointment.id != item.details.get("appointment_id")
    )


def _addendum_done(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The report was submitted again: the stage moved on, or a newer addendum was asked for
    (QA failed again: the examiner did submit)."""
    if status.stage is not Stage.REPORT:
        return True
    asked = event.details.get("addendum")
    mine = item.step.removeprefix("addendum-")
    return (
        event.type in (EventType.REPORT_QA_FAILED, EventType.ADDENDUM_REQUESTED)
        and isinstance(asked, int)
        and mine.isdigit()
        and asked > int(mine)
    )


def _review_recorded(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The review is recorded (accepted: on to DECISION; an addendum asked: back to REPORT)."""
    return status.stage is not Stage.REVIEW


def _appeal_reviewed(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The review on appeal is recorded (the file to the insurer, or a new IME)."""
    return status.appeal is None or status.appeal.phase != "review"


def _appeal_decided(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    return status.appeal is None or status.appeal.phase != "deciding"


@dataclass(frozen=True)
class DoneWhen:
    """When an item of `kind` is done by itself. `step`: its step was taken (None: only a person
    can say, `why` tells why); `with_claim`: the claim closing (closed, withdrawn, terminated)
    ends it; `with_examiner`: the claim no longer being its examiner's (reassigned, replaced,
    released) ends it."""

    kind: Template
    step: Rule | None
    with_claim: bool
    with_examiner: bool
    why: str


# Items due the moment they open: a breached deadline's follow-up is late work already (its
# notice names no due time of its own), so it sorts with the overdue and counts as overdue.
DUE_WHEN_OPENED = frozenset({Template.DEADLINE_BREACHED})

WORK_QUEUE: dict[Template, DoneWhen] = {
    row.kind: row
    for row in (
        DoneWhen(Template.APPOINTMENT_REQUEST, _appointment_done, True, True,
                 "the appointment confirmed or declined, or no longer theirs"),
        DoneWhen(Template.NO_EXAMINER_AVAILABLE, _examiner_booked, True, False,
                 "an examiner booked (by the system or assigned by ops)"),
        DoneWhen(Template.RECORDS_TO_EXAMINER, _records_moot, True, False,
                 "the records uploaded; moot once the exam is past or the booking gone"),
        DoneWhen(Template.INTERPRETER_TO_BOOK, _interpreter_booked, True, False,
                 "the interpreter recorded as booked, or the booking gone"),
        DoneWhen(Template.STATE_SELECTION_NEEDED, _state_issued, True, False,
                 "the state's panel or assignment recorded"),
        DoneWhen(Template.PANEL_ISSUED, _panel_acted_on, True, False,
                 "the item's side struck, or the panel's window is over"),
        DoneWhen(Template.PANEL_CHOICE_NEEDED, _panel_chosen, True, False,
                 "the examiner chosen from the panel"),
        DoneWhen(Template.ADDENDUM_REQUEST, _addendum_done, True, True,
                 "the report submitted again, or the stage moved on"),
        DoneWhen(Template.REPORT_TO_REVIEW, _review_recorded, True, False,
                 "the review recorded"),
        DoneWhen(Template.QA_ADDENDA_EXHAUSTED, _review_recorded, True, False,
                 "the report's review recorded (ops decide how it proceeds meanwhile)"),
        DoneWhen(Template.REVIEW_ADDENDA_EXHAUSTED, _review_recorded, True, False,
                 "the report's review recorded"),
        DoneWhen(Template.APPEAL_TO_REVIEW, _appeal_reviewed, True, False,
                 "the review on appeal recorded"),
        DoneWhen(Template.APPEAL_DECISION_NEEDED, _appeal_decided, True, False,
                 "the decision on appeal recorded"),
        DoneWhen(Template.DEADLINE_REMINDER, _reminder_done, True, True,
                 "its deadline met, or set again with another due time"),
        DoneWhen(Template.DEADLINE_BREACHED, _breach_done, True, True,
                 "its deadline met (the stage left), or set again (a re-raised rung)"),
        # Closed only by a person: what the service cannot see being done.
        DoneWhen(Template.DUTY_TO_PROTECT_TASK, None, False, False,
                 "a person: closed with a record of whom was warned"),
        DoneWhen(Template.SAFETY_PAGE, None, False, False,
                 "a person: the safety case outlives the claim"),
        DoneWhen(Template.SAFETY_ESCALATION, None, False, False,
                 "a person: the safety case outlives the claim"),
        DoneWhen(Template.SAFETY_UNRESOLVED, None, False, False,
                 "a person: the safety case outlives the claim"),
        DoneWhen(Template.REFERRAL_TO_TREATMENT, None, False, False,
                 "a person: the referral is followed up outside the claim"),
        DoneWhen(Template.SAFETY_CASE_ENDED_UNRESOLVED, None, False, False,
                 "a person: a case that ended unresolved is followed up by hand"),
        DoneWhen(Template.DELIVERY_DEAD, None, False, False,
                 "a person: a notice that reached nobody"),
        DoneWhen(Template.NOTIFICATION_DATA_CLEANED, None, False, False,
                 "a person: what was cleaned is looked at by hand"),
        DoneWhen(Template.ADVERSE_NOTICE_DEFERRED, None, False, False,
                 "a person: the deferred notice is followed up by hand"),
        DoneWhen(Template.CLAIM_TERMINATED, None, False, False,
                 "a person: the follow-up of a claim ended outside the service"),
    )
}  # fmt: skip


def is_done(item: OpenItem, status: ClaimStatus, event: ClaimEvent) -> bool:
    """The item's step is done (or moot) given the claim's status after `event`."""
    rule = next((r for kind, r in WORK_QUEUE.items() if kind.value == item.kind), None)
    if rule is None:
        return False
    if rule.with_claim and status.status == "closed" and item.case_id is None:
        return True
    examiner = status.examiner.id if status.examiner else None
    if rule.with_examiner and item.examiner_id is not None and examiner != item.examiner_id:
        return True
    return rule.step is not None and rule.step(item, status, event)


def done_by(event: ClaimEvent) -> dict[str, Any]:
    """Who did the step (`inbox_items.done_by`): the person or key whose action the event is,
    else the system (a deadline rung, the workflow's own step), with the event as the reason."""
    if event.acted_by is not None:
        return {**event.acted_by.model_dump(mode="json"), "reason": event.type.value}
    return {"by": "system", "reason": event.type.value}


def closed_by(caller: Caller, reason: str) -> dict[str, Any]:
    """A person (or key) closing an item by hand."""
    return {**caller.model_dump(mode="json"), "reason": reason}


# --- the queue -----------------------------------------------------------------------------


def holder_of(caller: Caller) -> tuple[str, str | None]:
    """Who takes an item: the signed-in person, else the key (id and shown name)."""
    if caller.user_id:
        return f"user:{caller.user_id}", caller.user_name
    return f"key:{caller.key_id}", caller.key_name


# Queue order: by due time (so overdue first, soonest next), no due time last, then oldest.
QueuePosition = tuple[datetime | None, datetime, str]


def encode_queue_cursor(position: QueuePosition) -> str:
    due, created, item_id = position
    raw = json.dumps([due.isoformat() if due else None, created.isoformat(), item_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_queue_cursor(cursor: str) -> QueuePosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, created, item_id = json.loads(raw)
        if not isinstance(item_id, str) or not isinstance(created, str):
            raise ValueError("shape")
        return (_utc(due) if due is not None else None, _utc(created), str(uuid.UUID(item_id)))
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error, OverflowError):
        raise InvalidInput(
            "the cursor is not valid", details=[{"field": "cursor", "message": "unknown cursor"}]
        ) from None


def _utc(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a time")
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("naive")
    return at.astimezone(UTC)
