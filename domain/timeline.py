"""Who sees which events of a claim's timeline, as data.

The safety branch's steps (PRODUCT §4) are for those who act on them: operations and the
clinicians. Everyone else who may read the claim sees of that branch only that the claim was put
on safety hold and that the hold lifted, never that a risk was screened, paged or referred.

Who acted on an event is shown in full (the key's id and name, or the signed-in person's account
id and name) to ops, and to whoever acted themselves; everyone else sees the role alone
(`who_acted_as_seen_by`).
"""

from __future__ import annotations

from domain.models.base import Caller
from domain.names import EventType, Role

# The steps of a safety case: the case's own timeline (`safety_case_events`).
SAFETY_CASE_STEPS = frozenset(
    {
        EventType.SAFETY_PAGE_SENT,
        EventType.SAFETY_ACK_MISSED,
        EventType.MEDICAL_DIRECTOR_PAGED,
        EventType.DUTY_TO_PROTECT_OPENED,
        EventType.DUTY_TO_PROTECT_CLOSED,
        EventType.SAFETY_CASE_ACKNOWLEDGED,
        EventType.SAFETY_FOLLOW_UP_SENT,
        EventType.SAFETY_CASE_RESOLVED,
    }
)

# The safety branch as its actors see it: the case steps and a moderate risk's referral (a claim
# event). `safety_hold_placed` / `safety_hold_lifted` are not in it: every reader sees those.
SAFETY_LADDER = SAFETY_CASE_STEPS | {EventType.REFERRAL_TO_TREATMENT}

# The event types each audience does not see in a claim's timeline. A role not listed (a new
# one) sees no step of the safety branch until it is given them here.
TIMELINE_HIDDEN: dict[Role, frozenset[EventType]] = {
    Role.OPS: frozenset(),
    Role.CLINICIAN: frozenset(),
    Role.INSURER: SAFETY_LADDER,
    Role.EXAMINER: SAFETY_LADDER,
    Role.REVIEWER: SAFETY_LADDER,
}


def hidden_from(role: Role) -> frozenset[EventType]:
    return TIMELINE_HIDDEN.get(role, SAFETY_LADDER)


def sees_case_steps(role: Role) -> bool:
    """Whether the role's timeline includes its safety cases' steps (else they are not read)."""
    return not hidden_from(role) >= SAFETY_CASE_STEPS


# Who reads what a person wrote when they acted (a reason, a decision's notes), besides the
# person themselves: the parties who run and decide the claim. Examiners, reviewers and
# clinicians act on their part of it, not on why it was withdrawn or decided.
NOTE_READERS = frozenset({Role.OPS, Role.INSURER})


def may_read_note(viewer: Caller, acted_by: Caller | None) -> bool:
    return viewer.role in NOTE_READERS or (acted_by is not None and _own(viewer, acted_by))


def _own(viewer: Caller, acted_by: Caller) -> bool:
    return (viewer.key_id is not None and viewer.key_id == acted_by.key_id) or (
        viewer.user_id is not None and viewer.user_id == acted_by.user_id
    )


def who_acted_as_seen_by(viewer: Caller, acted_by: Caller) -> Caller:
    """Who acted on an event, as `viewer` may see it. A person's name is shown to the audience
    that sees a key's name (ops, and the actor themselves), not to all: an insurer's timeline
    names no examiner's staff, nor ops' (the role is what a party needs: "ops assigned"), and a
    name is personal data that a key's label is not. Own means the same key or the same person;
    an absent id (a person has no key, a key no person) is never a match."""
    if viewer.role is Role.OPS or _own(viewer, acted_by):
        return acted_by
    return Caller(role=acted_by.role)
