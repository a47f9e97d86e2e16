"""Who may do what (PRODUCT §6 and its action table), as data.

A claim outside the caller's read scope does not exist for them (404, no existence leak); a claim
they may read but an action their role may not take is 403. Reads of the list are filtered by the
same scope (`store.claims` turns each `ReadScope` into SQL; `can_read` is the same rule in Python).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.models import Caller
from domain.names import Action, Role


class ReadScope(StrEnum):
    ALL = "all"
    OWN_INSURER = "own_insurer"  # the claims of the key's insurer
    ASSIGNED = "assigned"  # the claims the key's examiner is booked on (their worklist)
    REVIEWED = "reviewed"  # claims whose report was submitted: the reviewers' work
    SAFETY = "safety"  # claims that had a safety case: the clinicians' work
    NONE = "none"


READ_SCOPE: dict[Role, ReadScope] = {
    Role.OPS: ReadScope.ALL,
    Role.INSURER: ReadScope.OWN_INSURER,
    Role.EXAMINER: ReadScope.ASSIGNED,
    Role.REVIEWER: ReadScope.REVIEWED,
    Role.SENIOR_REVIEWER: ReadScope.REVIEWED,
    Role.CLINICIAN: ReadScope.SAFETY,
    Role.SRE: ReadScope.NONE,
}

_READERS = frozenset(role for role, scope in READ_SCOPE.items() if scope is not ReadScope.NONE)

# Who may take each action on a claim they can read. (The insurer and the examiner are "the
# claim's insurer" and "the assigned examiner" by their read scope.)
ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.ASSIGN: frozenset({Role.OPS}),
    Action.CONFIRM_APPOINTMENT: frozenset({Role.EXAMINER, Role.OPS}),
    Action.DECLINE_APPOINTMENT: frozenset({Role.EXAMINER, Role.OPS}),
    Action.EXAM: frozenset({Role.EXAMINER, Role.OPS}),
    Action.REPORT: frozenset({Role.EXAMINER, Role.OPS}),
    Action.RESCHEDULE: frozenset({Role.OPS, Role.EXAMINER, Role.INSURER}),
    Action.REVIEW: frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER}),
    Action.DECISION: frozenset({Role.INSURER, Role.OPS}),
    Action.EXTEND_DECISION: frozenset({Role.INSURER, Role.OPS}),
    Action.WITHDRAW: frozenset({Role.INSURER, Role.OPS}),
    Action.SAFETY_CONCERN: _READERS,
    Action.SAFETY_ACK: frozenset({Role.CLINICIAN}),
    Action.SAFETY_RESOLVE: frozenset({Role.CLINICIAN}),
    Action.REQUEST_REPORT_COPY: frozenset({Role.INSURER, Role.OPS}),
    Action.PROCEED_WITHOUT_RECORDS: frozenset({Role.OPS}),
    Action.INTERPRETER_BOOKED: frozenset({Role.OPS}),
    Action.RECORD_STATE_PANEL: frozenset({Role.OPS}),
    Action.RECORD_STATE_ASSIGNMENT: frozenset({Role.OPS}),
    # For one party each (`PANEL_PARTY_ROLES`).
    Action.STRIKE: frozenset({Role.INSURER, Role.OPS}),
    Action.PANEL_CHOICE: frozenset({Role.INSURER, Role.OPS}),
    # On the claimant's request (they write to the plan, or call ops).
    Action.APPEAL: frozenset({Role.INSURER, Role.OPS}),
    # The plan decides on appeal: the insurer (ERISA's named fiduciary), not the vendor.
    Action.APPEAL_DECISION: frozenset({Role.INSURER}),
}

# Who acts for each party to a state panel: the insurer for itself; ops on the claimant's behalf
# (the claimant, or their attorney, tells ops). Acting for the other party is 403.
PANEL_PARTY_ROLES: dict[str, Role] = {"insurer": Role.INSURER, "claimant": Role.OPS}

# Who may read the examination report of a claim they can read (PRODUCT §6): the claim's
# parties. Clinicians read claims for their safety cases only, not the report (404 for them, as
# for everyone else).
REPORT_READERS = frozenset(
    {Role.OPS, Role.INSURER, Role.REVIEWER, Role.SENIOR_REVIEWER, Role.EXAMINER}
)


class Capability(StrEnum):
    """What a caller may do apart from reading and acting on one claim."""

    START_CLAIM = "start_claim"
    LIST_CLAIMS = "list_claims"
    MANAGE_PANEL = "manage_panel"
    USE_CODEC = "use_codec"
    READ_METRICS = "read_metrics"
    MANAGE_WEBHOOKS = "manage_webhooks"
    USE_INBOX = "use_inbox"
    # The console's operations pages (the CLI reaches the same data with database access).
    READ_DELIVERIES = "read_deliveries"
    READ_ACCESS_LOG = "read_access_log"
    MANAGE_ACCOUNTS = "manage_accounts"
    # The clinician's workplace: the open safety cases with their clinical detail.
    WORK_SAFETY_CASES = "work_safety_cases"
    # The examiner's worklist: their appointments, exams and reports (the console).
    WORK_EXAMINATIONS = "work_examinations"
    # The reviewer's portal: the reports waiting for a review, by the review SLA (the console).
    REVIEW_REPORTS = "review_reports"
    # An insurer supervisor's team page: their insurer's overdue decisions (the console). It
    # reads nothing any caller of that insurer may not: the flag gives the page, not data rights.
    SUPERVISE_DECISIONS = "supervise_decisions"
    # Put a claim's records under a legal hold, or lift it (the retention sweep leaves held claims).
    HOLD_RECORDS = "hold_records"


CAPABILITY_ROLES: dict[Capability, frozenset[Role]] = {
    # Insurers only for their own insurer id (checked against the referral).
    Capability.START_CLAIM: frozenset({Role.OPS, Role.INSURER}),
    Capability.LIST_CLAIMS: _READERS,
    Capability.MANAGE_PANEL: frozenset({Role.OPS}),
    Capability.USE_CODEC: frozenset({Role.SRE, Role.OPS}),
    Capability.READ_METRICS: frozenset({Role.SRE, Role.OPS}),
    # Insurers their own endpoints; ops any insurer's.
    Capability.MANAGE_WEBHOOKS: frozenset({Role.OPS, Role.INSURER}),
    # Every role has an inbox (an sre's is empty).
    Capability.USE_INBOX: frozenset(Role),
    Capability.READ_DELIVERIES: frozenset({Role.OPS}),
    Capability.READ_ACCESS_LOG: frozenset({Role.OPS}),
    Capability.MANAGE_ACCOUNTS: frozenset({Role.OPS}),
    # Clinical detail (level, direction, notes) is for the clinical chain only (minimum
    # necessary): ops follow a case in the claim's timeline, without it.
    Capability.WORK_SAFETY_CASES: frozenset({Role.CLINICIAN}),
    Capability.WORK_EXAMINATIONS: frozenset({Role.EXAMINER}),
    # The roles that may take the review action (the action table's, not a copy of it).
    Capability.REVIEW_REPORTS: ACTION_ROLES[Action.REVIEW],
    # Only for an account flagged `supervisor` (`people.accounts`; see SUPERVISOR_ONLY).
    Capability.SUPERVISE_DECISIONS: frozenset({Role.INSURER}),
    Capability.HOLD_RECORDS: frozenset({Role.OPS}),
}

# Capabilities a role has only for a person whose account is flagged `supervisor` (API keys
# never are): `may_supervised` checks the flag on top of the role.
SUPERVISOR_ONLY = frozenset({Capability.SUPERVISE_DECISIONS})


@dataclass(frozen=True)
class ClaimScope:
    """What the read rules need to know of a claim (columns of the projection)."""

    insurer_id: str
    examiner_id: str | None
    reached_review: bool
    had_safety_case: bool


def can_read(caller: Caller, claim: ClaimScope) -> bool:
    match READ_SCOPE[caller.role]:
        case ReadScope.ALL:
            return True
        case ReadScope.OWN_INSURER:
            return claim.insurer_id == caller.insurer_id
        case ReadScope.ASSIGNED:
            return claim.examiner_id is not None and claim.examiner_id == caller.examiner_id
        case ReadScope.REVIEWED:
            return claim.reached_review
        case ReadScope.SAFETY:
            return claim.had_safety_case
        case ReadScope.NONE:
            return False


def may_read_report(caller: Caller) -> bool:
    """After `can_read`: the claim's report too."""
    return caller.role in REPORT_READERS


def may_act(caller: Caller, action: Action) -> bool:
    return caller.role in ACTION_ROLES[action]


def may_act_for(caller: Caller, party: str) -> bool:
    """Whether the caller may strike or choose from a state panel for `party`."""
    return PANEL_PARTY_ROLES.get(party) is caller.role


def may(caller: Caller, capability: Capability) -> bool:
    return caller.role in CAPABILITY_ROLES[capability]


def may_supervised(caller: Caller, capability: Capability, *, supervisor: bool) -> bool:
    """`may`, for a person whose account may carry the `supervisor` flag."""
    return may(caller, capability) and (capability not in SUPERVISOR_ONLY or supervisor)


# Who keeps an examiner's away periods: those who manage the panel, and the examiner themself.
AWAY_ROLES = CAPABILITY_ROLES[Capability.MANAGE_PANEL] | {Role.EXAMINER}


def may_manage_away(caller: Caller, examiner_id: str) -> bool:
    """An examiner's away periods: ops (any examiner), and an examiner (a key or a person scoped
    to them) their own. Anyone else is refused (403) whatever the id, as for the panel, so an
    unknown id tells them nothing."""
    if may(caller, Capability.MANAGE_PANEL):
        return True
    return caller.role is Role.EXAMINER and caller.examiner_id == examiner_id
