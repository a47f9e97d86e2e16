"""Every name two parts of the service must agree on, in one place.

Stages and outcomes are where a claim stands and how it ended, in its status, its listings and
the `claims` table; update and query names are what the API and the CLI send to a workflow;
activity names are what a workflow asks a worker for; event types, deadline names, recipients and
templates are what the audit log and the outbox store. Each is a `StrEnum`, so a member is its
string on the wire and in the database, and a typo is an AttributeError instead of a silent
mismatch.

Changing a value here changes recorded data (histories, audit rows, outbox keys): add members,
never rename them.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    REFERRAL = "REFERRAL"
    SCHEDULING = "SCHEDULING"
    EXAM = "EXAM"
    REPORT = "REPORT"
    REVIEW = "REVIEW"
    DECISION = "DECISION"
    CLOSED = "CLOSED"
    # A denial appealed (patch `denial-appeal`): the review on appeal and the decision on it. A
    # new IME asked for on appeal goes through SCHEDULING..REVIEW and comes back here.
    APPEAL = "APPEAL"


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    NON_COOPERATION = "non_cooperation"
    CANCELLED_BY_OPS = "cancelled_by_ops"
    # The claim's workflow ended without closing the claim (terminated, failed, timed out or
    # cancelled in Temporal); recorded by the worker's reconciler. No claimant notice goes out.
    TERMINATED = "terminated"
    # The decision on an appeal of a denial: the denial stands, or it is overturned; or the
    # appeal was withdrawn (the denial stands).
    APPEAL_UPHELD = "appeal_upheld"
    APPEAL_OVERTURNED = "appeal_overturned"
    APPEAL_WITHDRAWN = "appeal_withdrawn"


class Action(StrEnum):
    """The actions of PRODUCT §6: the URL segment, the CLI argument and the Update name."""

    ASSIGN = "assign"
    CONFIRM_APPOINTMENT = "confirm-appointment"
    DECLINE_APPOINTMENT = "decline-appointment"
    RESCHEDULE = "reschedule"
    EXAM = "exam"
    REPORT = "report"
    REVIEW = "review"
    DECISION = "decision"
    EXTEND_DECISION = "extend-decision"
    WITHDRAW = "withdraw"
    SAFETY_CONCERN = "safety-concern"
    SAFETY_ACK = "safety-ack"
    SAFETY_RESOLVE = "safety-resolve"
    # The claimant's copy of the report, where the profile gives it on request (ERISA-LTD).
    REQUEST_REPORT_COPY = "request-report-copy"
    # Ops decide to hold the exam although the records lead was missed (TX-DD), or before.
    PROCEED_WITHOUT_RECORDS = "proceed-without-records"
    # Ops booked the interpreter the referral asks for: the claimant's notice goes now.
    INTERPRETER_BOOKED = "interpreter-booked"
    # Who examines, where the state picks (`domain.selection`, patch `state-selection`): ops
    # record the state's panel (CA-QME) or its assignment (TX-DD, PA-IRE); the parties strike
    # from the panel, or choose from it.
    RECORD_STATE_PANEL = "record-state-panel"
    RECORD_STATE_ASSIGNMENT = "record-state-assignment"
    STRIKE = "strike"
    PANEL_CHOICE = "panel-choice"
    # The appeal of a denial (`domain.appeal`, patch `denial-appeal`): received on the
    # claimant's request (insurer or ops), decided by the insurer.
    APPEAL = "appeal"
    APPEAL_DECISION = "appeal-decision"


class ServiceUpdate(StrEnum):
    """Updates only the service itself sends to a claim (no role may send them as an action)."""

    # A `records` document was stored for the claim (documents_service): the records lead is met
    # and the examiner told.
    RECORDS_RECEIVED = "records-received"


# Actions a clinician takes on the claim's open safety case (its own workflow, which can outlive
# the claim); every other action is an Update of the claim workflow.
SAFETY_CASE_ACTIONS = frozenset({Action.SAFETY_ACK, Action.SAFETY_RESOLVE})


class Role(StrEnum):
    """What an API key may do (PRODUCT §6); scoped to one insurer or one examiner where named."""

    OPS = "ops"
    INSURER = "insurer"
    EXAMINER = "examiner"
    REVIEWER = "reviewer"
    CLINICIAN = "clinician"
    SRE = "sre"
    # A reviewer who is told when a review runs past its SLA, and may review any claim in review.
    SENIOR_REVIEWER = "senior_reviewer"


class Query(StrEnum):
    CLAIM_STATUS = "status"
    OPEN_SAFETY_CASE = "safety_case"
    SAFETY_CASE_STATE = "state"
    # The referral's questions, for the examiner's report form (`ClaimService.questions`).
    REFERRAL_QUESTIONS = "questions"


class ActivityName(StrEnum):
    LOAD_PROFILE = "load_profile"
    COMPUTE_DEADLINES = "compute_deadlines"
    RECORD_TRANSITION = "record_transition"
    SCHEDULE_EXAM = "schedule_exam"
    SET_APPOINTMENT_STATUS = "set_appointment_status"
    NOTIFY = "notify"
    ASSESS_REPORT = "assess_report"
    # The steps of a safety case (its own timeline, `safety_case_events`) with their pages.
    RECORD_SAFETY_CASE_EVENTS = "record_safety_case_events"


class RetentionActivity(StrEnum):
    """The retention sweep's activities (`activities.retention`), apart from the claim's."""

    CLAIMS_DUE = "retention_claims_due"
    DESTROY_RECORDS = "retention_destroy_records"


class LegalHoldReason(StrEnum):
    """Why ops hold a claim's records: a code, never free text (no PHI can be written in)."""

    LITIGATION = "litigation"
    SUBPOENA = "subpoena"
    REGULATOR_INQUIRY = "regulator_inquiry"
    AUDIT = "audit"
    APPEAL = "appeal"
    OTHER = "other"


class DeadlineName(StrEnum):
    APPOINTMENT_CONFIRMATION = "appointment_confirmation"
    EXAM_OUTCOME = "exam_outcome"
    REPORT = "report"
    REVIEW = "review"
    DECISION = "decision"
    # The escalation chain (PRODUCT §3): each rung after a breach is a deadline of its own, so no
    # wait is ever unbounded.
    REPORT_ESCALATION = "report_escalation"
    EXAM_OUTCOME_ESCALATION = "exam_outcome_escalation"
    REVIEW_ESCALATION = "review_escalation"
    DECISION_ESCALATION = "decision_escalation"
    # The appointment must be set and noticed within the profile's window from the referral.
    APPOINTMENT_NOTICE = "appointment_notice"
    # The claim's records with the examiner at least the profile's lead before the exam (TX-DD),
    # and its escalation rung (re-raised to ops until met or ops decide).
    RECORDS_LEAD = "records_lead"
    RECORDS_LEAD_ESCALATION = "records_lead_escalation"
    # Where the state picks the examiner: the state's panel or assignment awaited (and its rung,
    # re-raised to ops); the panel's strike (or choice) window; the choice of the party entitled
    # to it once the window closed with more than one examiner left (and its rung).
    STATE_SELECTION = "state_selection"
    STATE_SELECTION_ESCALATION = "state_selection_escalation"
    PANEL_WINDOW = "panel_window"
    PANEL_CHOICE = "panel_choice"
    PANEL_CHOICE_ESCALATION = "panel_choice_escalation"
    # The appeal of a denial: its review by a reviewer other than the first (and its rung), and
    # the decision on appeal, from the appeal's receipt, claim-wide (and its rung).
    APPEAL_REVIEW = "appeal_review"
    APPEAL_REVIEW_ESCALATION = "appeal_review_escalation"
    APPEAL_DECISION = "appeal_decision"
    APPEAL_DECISION_ESCALATION = "appeal_decision_escalation"


# Not deadlines: the earliest appointment start the profile's notice lead allows, and the one
# its records lead allows (records reach the examiner at least that long before the exam).
NOTICE_START = "notice"
RECORDS_START = "records"


class EventType(StrEnum):
    """Types of the audit timeline's events (`claim_events.type`)."""

    REFERRAL_RECEIVED = "referral_received"
    NO_EXAMINER_AVAILABLE = "no_examiner_available"
    APPOINTMENT_BOOKED = "appointment_booked"
    EXAMINER_ASSIGNED = "examiner_assigned"
    APPOINTMENT_CONFIRMED = "appointment_confirmed"
    APPOINTMENT_DECLINED = "appointment_declined"
    APPOINTMENT_RESCHEDULED = "appointment_rescheduled"
    EXAM_ATTENDED = "exam_attended"
    EXAM_NO_SHOW = "exam_no_show"
    REPORT_QA_FAILED = "report_qa_failed"
    REPORT_SUBMITTED = "report_submitted"
    ADDENDUM_REQUESTED = "addendum_requested"
    REPORT_ACCEPTED = "report_accepted"
    DECISION_EXTENDED = "decision_extended"
    DECISION_ISSUED = "decision_issued"
    CLAIM_WITHDRAWN = "claim_withdrawn"
    DEADLINE_BREACHED = "deadline_breached"
    SAFETY_HOLD_PLACED = "safety_hold_placed"
    SAFETY_HOLD_LIFTED = "safety_hold_lifted"
    CLAIM_CLOSED = "claim_closed"
    # An unconfirmed appointment's confirmation window passed: released, the next examiner booked.
    APPOINTMENT_EXPIRED = "appointment_expired"
    # The report was late past the escalation grace: the examiner is released and a new exam booked.
    EXAMINER_REPLACED = "examiner_replaced"
    # All parties told that the exam took place (FL-WC).
    EXAM_NOTICE_SENT = "exam_notice_sent"
    # The claimant's copy of the report was requested (sent now, or when the report is accepted).
    REPORT_COPY_REQUESTED = "report_copy_requested"
    # The claim's workflow ended without closing it (terminated, failed, timed out, cancelled in
    # Temporal); recorded by the worker's reconciler, not by the workflow.
    CLAIM_TERMINATED = "claim_terminated"
    # An operator reset the claim's workflow (Temporal reset) to an earlier point: the claim
    # goes on from there, and what the run before did from that point on is superseded.
    WORKFLOW_RESET = "workflow_reset"
    # Temporal cancellation (Request Cancellation in the UI or CLI): an ops withdrawal.
    CANCELLATION_REQUESTED = "cancellation_requested"
    # The safety branch's steps (PRODUCT §4), for those who act on them (`domain.timeline`):
    # a moderate risk referred to treatment (a claim event), and the rungs of a safety case
    # (`safety_case_events`, the case's own timeline). Never clinical notes.
    REFERRAL_TO_TREATMENT = "referral_to_treatment"
    SAFETY_PAGE_SENT = "safety_page_sent"
    SAFETY_ACK_MISSED = "safety_ack_missed"
    MEDICAL_DIRECTOR_PAGED = "medical_director_paged"
    DUTY_TO_PROTECT_OPENED = "duty_to_protect_opened"
    DUTY_TO_PROTECT_CLOSED = "duty_to_protect_closed"
    SAFETY_CASE_ACKNOWLEDGED = "safety_case_acknowledged"
    SAFETY_FOLLOW_UP_SENT = "safety_follow_up_sent"
    SAFETY_CASE_RESOLVED = "safety_case_resolved"
    # Exam preparation (patch `exam-preparation`).
    RECORDS_RECEIVED = "records_received"
    RECORDS_LEAD_WAIVED = "records_lead_waived"
    INTERPRETER_BOOKED = "interpreter_booked"
    # Who examines, where the state picks (patch `state-selection`): ops were asked to obtain
    # the state's panel or assignment (again, after an examiner was lost); what the state issued;
    # each strike and choice; the panel window closing; a state's examiner who cannot take the
    # claim (licence, conflict), refused.
    STATE_SELECTION_REQUESTED = "state_selection_requested"
    STATE_PANEL_RECORDED = "state_panel_recorded"
    STATE_ASSIGNMENT_RECORDED = "state_assignment_recorded"
    PANEL_STRUCK = "panel_struck"
    PANEL_CHOSEN = "panel_chosen"
    PANEL_WINDOW_CLOSED = "panel_window_closed"
    STATE_EXAMINER_REFUSED = "state_examiner_refused"
    # The appeal of a denial (patch `denial-appeal`): received (the claim reopens), reviewed
    # (the file decided on, or a new IME asked for), its decision extended, decided; or its
    # window closed with no appeal.
    APPEAL_RECEIVED = "appeal_received"
    APPEAL_REVIEWED = "appeal_reviewed"
    APPEAL_EXTENDED = "appeal_extended"
    APPEAL_DECIDED = "appeal_decided"
    APPEAL_WINDOW_CLOSED = "appeal_window_closed"
    # Record keeping (`claim_record_events`, written outside the workflow, merged into the
    # timeline): ops put the claim under a legal hold or lifted it; retention destroyed its
    # documents, report contents, clinical notes and claimant contact (counts only).
    LEGAL_HOLD_PLACED = "legal_hold_placed"
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"
    RECORDS_DESTROYED = "records_destroyed"


class Actor(StrEnum):
    """Who an audit event says acted."""

    SYSTEM = "system"
    OPS = "ops"
    EXAMINER = "examiner"
    REVIEWER = "reviewer"
    INSURER = "insurer"
    CLINICIAN = "clinician"
    REQUESTER = "requester"
    # Someone with access to Temporal itself (reset, cancellation): who, Temporal does not say.
    OPERATOR = "operator"


class Recipient(StrEnum):
    """Who a notification is for."""

    CLAIMANT = "claimant"
    EXAMINER = "examiner"
    INSURER = "insurer"
    OPS = "ops"
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    SUPERVISOR = "supervisor"
    CLINICIAN = "clinician"
    CRISIS_LINE = "crisis_line"
    MEDICAL_DIRECTOR = "medical_director"


# The clinical chain: the only recipients that may see a safety case's notes.
CLINICAL_RECIPIENTS = frozenset(
    {Recipient.CLINICIAN, Recipient.CRISIS_LINE, Recipient.MEDICAL_DIRECTOR}
)


class Template(StrEnum):
    """Notification templates (`notification_outbox.template`)."""

    APPOINTMENT_NOTICE = "appointment_notice"
    APPOINTMENT_REQUEST = "appointment_request"
    APPOINTMENT_CANCELLED = "appointment_cancelled"
    NO_EXAMINER_AVAILABLE = "no_examiner_available"
    DEADLINE_REMINDER = "deadline_reminder"
    DEADLINE_BREACHED = "deadline_breached"
    ADDENDUM_REQUEST = "addendum_request"
    QA_ADDENDA_EXHAUSTED = "qa_addenda_exhausted"
    REPORT_COPY = "report_copy"
    REPORT_AVAILABLE = "report_available"
    DECISION_EXTENSION_NOTICE = "decision_extension_notice"
    DECISION_NOTICE = "decision_notice"
    WITHDRAWAL_NOTICE = "withdrawal_notice"
    NON_COOPERATION_NOTICE = "non_cooperation_notice"
    CANCELLATION_NOTICE = "cancellation_notice"
    ADVERSE_NOTICE_DEFERRED = "adverse_notice_deferred"
    CLAIM_CLOSED = "claim_closed"
    REFERRAL_TO_TREATMENT = "referral_to_treatment"
    SAFETY_PAGE = "safety_page"
    SAFETY_ALERT = "safety_alert"
    SAFETY_ESCALATION = "safety_escalation"
    SAFETY_UNRESOLVED = "safety_unresolved"
    SAFETY_RESOLVED = "safety_resolved"
    SAFETY_CASE_ENDED_UNRESOLVED = "safety_case_ended_unresolved"
    DUTY_TO_PROTECT_TASK = "duty_to_protect_task"
    # A notification's details held text Postgres cannot store; it went out without it.
    NOTIFICATION_DATA_CLEANED = "notification_data_cleaned"
    # A report waits for a reviewer.
    REPORT_TO_REVIEW = "report_to_review"
    # A message could not be delivered within its retry period.
    DELIVERY_DEAD = "delivery_dead"
    # A late examiner is taken off the claim (their report is no longer accepted).
    EXAMINER_RELEASED = "examiner_released"
    # Ops: a deadline's last rung passed; re-raised every grace period until someone acts.
    ESCALATION_TO_OPS = "escalation_to_ops"
    # The reviewer may ask for no more addenda: ops decide how the report proceeds.
    REVIEW_ADDENDA_EXHAUSTED = "review_addenda_exhausted"
    # Ops send the claimant's medical records to the examiner before the exam (TX-DD).
    RECORDS_TO_EXAMINER = "records_to_examiner"
    # All parties are told the exam took place (FL-WC).
    EXAM_HELD_NOTICE = "exam_held_notice"
    # The examiner is told that the claim's records have arrived (to download in their portal).
    RECORDS_RECEIVED = "records_received"
    # Ops' task: book the interpreter the referral asks for; the claimant's notice waits for it.
    INTERPRETER_TO_BOOK = "interpreter_to_book"
    # Ops: a claim's workflow ended outside the service (e.g. terminated in the Temporal UI).
    CLAIM_TERMINATED = "claim_terminated"
    # Ops: obtain the state's panel or assignment (or a replacement) and record it.
    STATE_SELECTION_NEEDED = "state_selection_needed"
    # The insurer (and ops, for the claimant): the panel is issued; strike one, or choose.
    PANEL_ISSUED = "panel_issued"
    # The party entitled to it chooses the examiner from what is left of the panel.
    PANEL_CHOICE_NEEDED = "panel_choice_needed"
    # The appeal of a denial: the claimant's acknowledgement (with the date a decision is due);
    # the reviewer's task; the insurer's decision to make; the claimant's decision letter.
    APPEAL_RECEIVED_NOTICE = "appeal_received_notice"
    APPEAL_TO_REVIEW = "appeal_to_review"
    APPEAL_DECISION_NEEDED = "appeal_decision_needed"
    APPEAL_DECISION_NOTICE = "appeal_decision_notice"


class Patch(StrEnum):
    """`workflow.patched(...)` ids: each marks a change of workflow behaviour; claims that started
    before it replay the old path (docs/changing-workflow-code.md)."""

    # Notifications ride in their transition's activity (one Postgres transaction).
    OUTBOX_IN_TRANSITION = "outbox-in-transition"
    # A claim closed on safety hold stays open (CLOSED in stage) until its cases end, then
    # records the hold lifted.
    HOLD_LIFTS_AFTER_CLOSE = "hold-lifts-after-close"
    # Every breached deadline starts the next rung of its chain (examiner replaced, senior
    # reviewer, supervisor, ops); an unconfirmed appointment is released and re-booked.
    ESCALATION_CHAIN = "escalation-chain"
    # The claim continues as new when its history grows long, carrying its state.
    CLAIM_CONTINUES_AS_NEW = "claim-continues-as-new"
    # The safety branch's steps reach the timeline (a safety case's rungs, a referral to
    # treatment), and a long safety case continues as new carrying its state.
    SAFETY_LADDER_EVENTS = "safety-ladder-events"
    # A claim's history kept short: the transition writes, the booking and the pure
    # computations (deadlines, profile, QA) as local activities, appointment changes in their
    # transition's transaction, search attributes upserted only when they change; implies the
    # escalation chain, continue-as-new and outbox-in-transition patches.
    LEAN_HISTORY = "lean-history"
    # The transition write and the booking run as (regular) activities again: Temporal records
    # that they were asked for before they run, so a workflow task the server lost cannot have
    # written to Postgres (a later, different step would reuse its sequence number). The pure
    # computations stay local. Implies lean-history.
    DURABLE_WRITES = "durable-writes"
    # A reset run records where it went back to (`EventType.WORKFLOW_RESET`), re-syncing what
    # callers read with the workflow at once.
    RESET_RESYNC = "reset-resync"
    # Temporal cancellation closes the claim as an ops withdrawal (compensation, parties told)
    # instead of ending the run mid-step.
    CANCEL_WITHDRAWS = "cancel-withdraws"
    # A booking of a claim whose profile sets a records lead starts its deadline (met when the
    # records arrive); one whose referral needs an interpreter holds the claimant's notice
    # until ops book one.
    EXAM_PREPARATION = "exam-preparation"
    # Where the profile says the state picks the examiner, the claim waits for the state's panel
    # (struck or chosen by the parties) or assignment, and never books the vendor's pick.
    STATE_SELECTION = "state-selection"
    # A denial under a profile that grants an appeal keeps the claim for the appeal's window;
    # an appeal reopens it in APPEAL (reviewed by another reviewer, a new IME if asked for,
    # decided within the profile's clock).
    DENIAL_APPEAL = "denial-appeal"


class AppointmentStatus(StrEnum):
    """`appointments.status` (a CHECK constraint lists the same values)."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class PassOverRule(StrEnum):
    """Why a booking could not use an examiner of the panel: the first rule, in this order, that
    excluded them (PRODUCT §3, Scheduling). Never names the claimant, their treating provider or
    an earlier claim."""

    SPECIALTY = "specialty"  # does not hold the requested specialty
    INACTIVE = "inactive"  # taken off the panel
    LICENCE = "licence"  # not licensed in the profile's (or the claimant's) state
    # Declined this claim, let its booking lapse, or was replaced for a late report.
    OFF_THIS_CLAIM = "off_this_claim"
    # Treats the claimant, or examined them (or is booked to) on another claim.
    CONFLICT = "conflict"
    CAPACITY = "capacity"  # as many open bookings as their capacity
    # Eligible, but no free slot before the profile's exam window closes.
    NO_SLOT = "no_slot"
    # Eligible, but away (`examiner_away`) on every slot the booking could offer in the exam
    # window. Added last: the rules above keep their order. Named only in a search across the
    # panel; for ops' own pick the refusal says `no_slot` (the words the workflow knows).
    AWAY = "away"
