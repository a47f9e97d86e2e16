"""Which behaviour a run of a claim (or of a safety case) follows: the one module that reads
`workflow.patched`.

Claims live for weeks, so a change of workflow behaviour never replaces the old one: it goes
behind a patch, and a run started before it replays the old path (docs/changing-workflow-code.md).
Every collaborator of `ClaimWorkflow` is handed the run's `Generation` when it is built and asks
it, instead of carrying a behaviour flag of its own.

The patches, oldest first (`domain.names.Patch`; the first seven of 2026-11-28, the next four
of 2026-12-07, the last of 2026-12-08; `since` is the commit that introduced each). A history
in tests/histories/ named `<branch>@<suffix>.json` was recorded by the code that introduced the
suffix's patch, and `<branch>.json` by the code before the first one; the last column names the
histories that pin the path each patch replaced.

patch                   since    what changed                                old path pinned by
outbox-in-transition    b5698fb  notices ride in their transition's write    <branch>.json
hold-lifts-after-close  b5698fb  a claim closed on hold waits for its cases  <branch>.json
escalation-chain        c8cb92a  a breach starts the next rung of its chain  @hold-lifts-after-close
claim-continues-as-new  c8cb92a  a long claim continues as new               @hold-lifts-after-close
safety-ladder-events    c8cb92a  safety rungs, referrals on the timeline     @hold-lifts-after-close
lean-history            7d1e1e2  writes, computations as local activities    @safety-ladder-events
durable-writes          34032bb  the writes as ordinary activities again     @lean-history
reset-resync            7d14e14  a reset run records where it went back to   @durable-writes
cancel-withdraws        7d14e14  Temporal cancellation is an ops withdrawal  @durable-writes
exam-preparation        ee62aa2  records lead deadline; notice waits for     @cancel-withdraws
                                 the interpreter
state-selection         6fbd7ff  the state's panel or assignment picks the   @exam-preparation
                                 examiner (CA-QME, TX-DD, PA-IRE)
denial-appeal           0b869a2  a denial may be appealed (ERISA-LTD, DEMO): @state-selection
                                 the claim reopens in APPEAL

`workflow.patched` records a marker where it is first asked and keeps that answer for the rest of
the run. The three patches `detect` asks are read before the claim's first command. The others
are asked where landed histories carry their markers, after the claim's first activities or on
the branch they change; each is a method called at that point first (`ClaimWorkflow.run`,
`SafetyHold`, `SafetyEscalationWorkflow`), and asked again later it returns the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from workflows.effects import LOCAL, WRITES

with workflow.unsafe.imports_passed_through():
    from domain.names import ActivityName, Patch


@dataclass(frozen=True)
class Generation:
    """The behaviour of one run of a claim, read once when the run begins."""

    # The transition write and the booking run as (regular) activities: Postgres never holds a
    # step of a workflow task the server lost.
    durable_writes: bool
    # The short history: pure computations (and, without `durable_writes`, the writes) as local
    # activities, appointment changes with the next transition, search attributes upserted only
    # when they change. Implies every patch before it.
    lean_history: bool
    # Notifications ride in their transition's activity instead of one activity each.
    batched_notices: bool

    @classmethod
    def detect(cls) -> Generation:
        """The same `patched` calls, in the same order and with the same short-circuits, as
        every landed version made them: the newest implies those before it, so a new claim's
        history carries one marker."""
        durable = workflow.patched(Patch.DURABLE_WRITES)
        lean = durable or workflow.patched(Patch.LEAN_HISTORY)
        batched = lean or workflow.patched(Patch.OUTBOX_IN_TRANSITION)
        return cls(durable_writes=durable, lean_history=lean, batched_notices=batched)

    @property
    def local_activities(self) -> frozenset[ActivityName]:
        """The activities this run calls as local activities (`workflows.effects.LOCAL`)."""
        if not self.lean_history:
            return frozenset()
        return LOCAL - WRITES if self.durable_writes else LOCAL

    def escalation_chain(self) -> bool:
        """Breaches start the next rung of their chain. First asked by `ClaimWorkflow.run` after
        the referral is recorded, where the marker stands in landed histories."""
        return self.lean_history or workflow.patched(Patch.ESCALATION_CHAIN)

    def continues_as_new(self) -> bool:
        """A long claim continues as new. First asked by `ClaimWorkflow.run` right after
        `escalation_chain`."""
        return self.lean_history or workflow.patched(Patch.CLAIM_CONTINUES_AS_NEW)

    def hold_lifts_after_close(self) -> bool:
        """A claim closed on hold waits for its cases. Asked by `ClaimWorkflow.run` only once the
        claim has closed on hold, the one branch it changes."""
        return self.lean_history or workflow.patched(Patch.HOLD_LIFTS_AFTER_CLOSE)

    def reset_resync(self) -> bool:
        """A reset run records where it went back to. Asked when the reset is noticed (the
        run's random seed changes), the one point it changes; runs reset before it existed
        replay without the event."""
        return workflow.patched(Patch.RESET_RESYNC)

    def exam_preparation(self) -> bool:
        """A booking starts the records lead and holds the claimant's notice for the
        interpreter (`workflows.preparing`). Asked by a booking of a claim whose profile sets a
        records lead or whose referral needs an interpreter, the one point it changes."""
        return workflow.patched(Patch.EXAM_PREPARATION)

    def state_selection(self) -> bool:
        """The state picks the examiner where the profile says so (`workflows.selecting`).
        Asked as a claim whose profile has the state pick enters SCHEDULING, the one point it
        changes; other claims' histories carry no marker."""
        return workflow.patched(Patch.STATE_SELECTION)

    def denial_appeal(self) -> bool:
        """A denial may be appealed where the profile grants it (`workflows.appealing`). Asked
        as such a claim is denied, before its closing steps, the one point it changes; other
        claims' histories carry no marker."""
        return workflow.patched(Patch.DENIAL_APPEAL)

    def cancel_withdraws(self) -> bool:
        """Temporal cancellation closes the claim as an ops withdrawal. Asked when the
        cancellation arrives, the one point it changes."""
        return workflow.patched(Patch.CANCEL_WITHDRAWS)


def safety_ladder_events() -> bool:
    """A safety case's rungs and a referral to treatment reach the timeline. Not implied by any
    later patch: asked (and its marker recorded) where the branch is taken, by the referral and
    by a case's first run."""
    return workflow.patched(Patch.SAFETY_LADDER_EVENTS)
