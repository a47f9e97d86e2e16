"""How each notification reaches its recipient, as data: which channel, whose inbox, what is
clinical, and which claim events become which insurer webhook events."""

from __future__ import annotations

from enum import StrEnum

from domain.names import EventType, Recipient, Role, Template


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    PAGE = "page"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    FAILED = "failed"  # an attempt failed; another is due at `next_attempt_at`
    DELIVERED = "delivered"
    DEAD = "dead"  # retried for the whole retry period; ops are told
    HELD = "held"  # an adverse notice waiting for the claimant's safety hold to lift


# People outside the service are reached by email; the on-call chain by pages.
EMAIL_RECIPIENTS = frozenset({Recipient.CLAIMANT, Recipient.EXAMINER})
PAGE_RECIPIENTS = frozenset(
    {Recipient.CLINICIAN, Recipient.CRISIS_LINE, Recipient.MEDICAL_DIRECTOR}
)
# Pages are for what cannot wait; the rest reaches clinicians through their inbox.
PAGE_TEMPLATES = frozenset(
    {Template.SAFETY_PAGE, Template.SAFETY_ALERT, Template.SAFETY_ESCALATION}
)

# Notifications that ask someone to act: each opens an item in that role's inbox.
INBOX: dict[tuple[Recipient, Template], Role] = {
    **{
        (Recipient.OPS, t): Role.OPS
        for t in (
            Template.NO_EXAMINER_AVAILABLE,
            Template.DEADLINE_BREACHED,
            Template.DUTY_TO_PROTECT_TASK,
            Template.ADVERSE_NOTICE_DEFERRED,
            Template.QA_ADDENDA_EXHAUSTED,
            Template.SAFETY_CASE_ENDED_UNRESOLVED,
            Template.NOTIFICATION_DATA_CLEANED,
            Template.DELIVERY_DEAD,
            Template.RECORDS_TO_EXAMINER,
            Template.REVIEW_ADDENDA_EXHAUSTED,
            Template.CLAIM_TERMINATED,
            Template.INTERPRETER_TO_BOOK,
            Template.STATE_SELECTION_NEEDED,
            Template.PANEL_ISSUED,
            Template.PANEL_CHOICE_NEEDED,
        )
    },
    **{
        (Recipient.EXAMINER, t): Role.EXAMINER
        for t in (
            Template.APPOINTMENT_REQUEST,
            Template.ADDENDUM_REQUEST,
            Template.DEADLINE_REMINDER,
            Template.DEADLINE_BREACHED,
        )
    },
    **{
        (Recipient.REVIEWER, t): Role.REVIEWER
        for t in (
            Template.REPORT_TO_REVIEW,
            Template.DEADLINE_REMINDER,
            Template.DEADLINE_BREACHED,
            Template.APPEAL_TO_REVIEW,
        )
    },
    **{
        (Recipient.INSURER, t): Role.INSURER
        for t in (
            Template.DEADLINE_REMINDER,
            Template.DEADLINE_BREACHED,
            Template.PANEL_ISSUED,
            Template.PANEL_CHOICE_NEEDED,
            Template.APPEAL_DECISION_NEEDED,
        )
    },
    # Escalation rungs: the senior reviewer of an overdue review; the insurer's supervisor of an
    # overdue decision (an item in the insurer's inbox, addressed to the supervisor).
    (Recipient.SENIOR_REVIEWER, Template.DEADLINE_BREACHED): Role.SENIOR_REVIEWER,
    (Recipient.SUPERVISOR, Template.DEADLINE_BREACHED): Role.INSURER,
    **{
        (recipient, t): Role.CLINICIAN
        for recipient in (Recipient.CLINICIAN, Recipient.MEDICAL_DIRECTOR)
        for t in (
            Template.SAFETY_PAGE,
            Template.SAFETY_ESCALATION,
            Template.SAFETY_UNRESOLVED,
            Template.REFERRAL_TO_TREATMENT,
            Template.SAFETY_CASE_ENDED_UNRESOLVED,
        )
    },
}

# A claim whose workflow ended outside the service (terminated in Temporal) asks nothing more of
# anyone: its open inbox items of these kinds close with it (`store.reconcile`), as its slot is
# released. The other kinds outlive it: the safety branch's (the person is still at risk, and a
# safety case outlives its claim), a notice that did not reach someone, the ops follow-up of the
# ending itself, and whatever the workflow had already closed the claim with.
CLOSED_WITH_ENDED_CLAIM = frozenset(
    {
        Template.APPOINTMENT_REQUEST,
        Template.NO_EXAMINER_AVAILABLE,
        Template.DEADLINE_REMINDER,
        Template.DEADLINE_BREACHED,
        Template.ADDENDUM_REQUEST,
        Template.QA_ADDENDA_EXHAUSTED,
        Template.REPORT_TO_REVIEW,
        Template.REVIEW_ADDENDA_EXHAUSTED,
        Template.RECORDS_TO_EXAMINER,
        Template.INTERPRETER_TO_BOOK,
        Template.STATE_SELECTION_NEEDED,
        Template.PANEL_ISSUED,
        Template.PANEL_CHOICE_NEEDED,
        Template.APPEAL_TO_REVIEW,
        Template.APPEAL_DECISION_NEEDED,
    }
)
OUTLIVE_ENDED_CLAIM = frozenset(
    {
        Template.DUTY_TO_PROTECT_TASK,
        Template.SAFETY_PAGE,
        Template.SAFETY_ESCALATION,
        Template.SAFETY_UNRESOLVED,
        Template.REFERRAL_TO_TREATMENT,
        Template.SAFETY_CASE_ENDED_UNRESOLVED,
        Template.DELIVERY_DEAD,
        Template.NOTIFICATION_DATA_CLEANED,
        Template.ADVERSE_NOTICE_DEFERRED,
        Template.CLAIM_TERMINATED,
    }
)

# Details only the clinical chain may read (minimum necessary): stripped for everyone else.
CLINICAL_DETAILS = frozenset({"notes", "level", "toward"})
CLINICAL_ROLES = frozenset({Role.CLINICIAN})


def safety_case_page(claim_id: str) -> str:
    """The console page of a claim's safety cases (path only), where a page links: the opaque
    claim id is all it carries (no PHI in a URL). The sender makes it absolute
    (`delivery.channels`), as only it knows where the console is reached."""
    return f"/console/safety/{claim_id}"


# An inbox item of these kinds is closed only with a record of whom was warned (Tarasoff).
NEEDS_WARNED_RECORD = frozenset({Template.DUTY_TO_PROTECT_TASK})

# Closing an inbox item of these kinds is a step of its safety case (`safety_case_events`),
# recorded in the closing's transaction.
CASE_STEP_ON_CLOSING: dict[Template, EventType] = {
    Template.DUTY_TO_PROTECT_TASK: EventType.DUTY_TO_PROTECT_CLOSED,
}


class WebhookEvent(StrEnum):
    CLAIM_CREATED = "claim.created"
    CLAIM_STAGE_CHANGED = "claim.stage_changed"
    CLAIM_DEADLINE_BREACHED = "claim.deadline_breached"
    CLAIM_SAFETY_HOLD_CHANGED = "claim.safety_hold_changed"
    CLAIM_REPORT_AVAILABLE = "claim.report_available"
    CLAIM_CLOSED = "claim.closed"


# Claim events that are webhook events by themselves (stage changes are found by comparing).
WEBHOOK_EVENTS: dict[EventType, WebhookEvent] = {
    EventType.REFERRAL_RECEIVED: WebhookEvent.CLAIM_CREATED,
    EventType.DEADLINE_BREACHED: WebhookEvent.CLAIM_DEADLINE_BREACHED,
    EventType.SAFETY_HOLD_PLACED: WebhookEvent.CLAIM_SAFETY_HOLD_CHANGED,
    EventType.SAFETY_HOLD_LIFTED: WebhookEvent.CLAIM_SAFETY_HOLD_CHANGED,
    EventType.REPORT_ACCEPTED: WebhookEvent.CLAIM_REPORT_AVAILABLE,
    EventType.CLAIM_CLOSED: WebhookEvent.CLAIM_CLOSED,
    # Ended outside the service (terminated in Temporal): closed all the same for the insurer.
    EventType.CLAIM_TERMINATED: WebhookEvent.CLAIM_CLOSED,
}
