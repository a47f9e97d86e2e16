"""Who examines, where the state picks (`domain.selection`, patch `state-selection`).

The booking loop asks `waits()` before it books: while the state's examiner is not known it
`wait()`s instead, having asked ops once per wait to obtain the state's panel or assignment (the
`state_selection` deadline, with its rung re-raised to ops). What the state issued arrives as
ops' actions, registered here as `workflows.preparing` registers its own:

- `record-state-panel` (CA-QME): the panel's window starts (`panel_window`). The parties strike
  (`strike`) or the unrepresented claimant chooses (`panel-choice`); when the window passes, the
  rule decides (`window_closed`, the breach of `panel_window`), and a choice still to make has
  its own deadline (`panel_choice`, with its rung).
- `record-state-assignment` (TX-DD, PA-IRE): the examiner is booked at once; one who cannot
  take the claim (licence, conflict, ...) is refused with the reason and ops go back to the
  state. So is the panel's remaining examiner, when the loop books them.

The vendor never picks instead; an examiner lost later (declined, lapsed, replaced by the
escalation chain) sends ops back to the state (`ExaminerSelection.lost`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

from workflows.clock import EXAM_WINDOW, DeadlineClock
from workflows.effects import Notice
from workflows.generation import Generation
from workflows.recorder import Recorder
from workflows.registry import register

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import (
        ActionInput,
        ClaimIntake,
        ClaimStatus,
        Deadline,
        ExaminerSearch,
        PanelChoice,
        RecordStateAssignment,
        RecordStatePanel,
        Stage,
        Strike,
    )
    from domain.names import (
        Action,
        DeadlineName,
        EventType,
        PassOverRule,
        Recipient,
        Template,
    )
    from domain.refusal import refuse
    from domain.selection import SelectionPhase

# What this module registers on the claim: update name -> payload model.
UPDATES: dict[str, type[ActionInput]] = {
    Action.RECORD_STATE_PANEL: RecordStatePanel,
    Action.RECORD_STATE_ASSIGNMENT: RecordStateAssignment,
    Action.STRIKE: Strike,
    Action.PANEL_CHOICE: PanelChoice,
}

# Why a booking could not use the state's examiner, by the rule that excluded them: these say
# the examiner cannot take the claim at all (the state is asked for another); the rest (capacity,
# no free slot, away) only that they cannot yet, and the booking loop retries them.
_CANNOT_TAKE = frozenset(
    {
        PassOverRule.SPECIALTY,
        PassOverRule.INACTIVE,
        PassOverRule.LICENCE,
        PassOverRule.OFF_THIS_CLAIM,
        PassOverRule.CONFLICT,
    }
)

Book = Callable[..., Awaitable[bool]]


class Selecting:
    def __init__(
        self,
        state: ClaimState,
        intake: ClaimIntake,
        recorder: Recorder,
        clock: DeadlineClock,
        generation: Generation,
        *,
        book: Book,
        last_search: Callable[[], ExaminerSearch | None],
        refusal: Callable[[], str],
    ) -> None:
        self._state = state
        self._intake = intake
        self._recorder = recorder
        self._clock = clock
        self._generation = generation
        self._book = book
        self._last_search = last_search
        self._refusal = refusal
        # An assignment is being booked by its action: the loop leaves the booking to it.
        self._busy = False
        register(
            state,
            (
                (Action.RECORD_STATE_PANEL, self.record_state_panel),
                (Action.RECORD_STATE_ASSIGNMENT, self.record_state_assignment),
                (Action.STRIKE, self.strike),
                (Action.PANEL_CHOICE, self.panel_choice),
            ),
        )

    def take_up(self) -> None:
        """The claim has just entered SCHEDULING: where its profile has the state pick, it waits
        for the state from now on (before anything is awaited, so no action slips in between).
        The patch is asked here, by such claims only."""
        profile, selection = self._state.require_profile(), self._state.selection
        if profile.selection != "vendor" and self._generation.state_selection():
            selection.begin(profile.selection, self._intake.claimant.represented)

    def waits(self) -> bool:
        """Whether the booking loop must wait for the state instead of booking."""
        return self._state.selection.waits_for_state or self._busy

    async def wait(self) -> None:
        """Ask ops to obtain the state's pick (once per wait), then wait for the next action or
        deadline, or for the booking to become possible."""
        selection = self._state.selection
        if selection.waits_for_state and not selection.asked:
            await self._ask()
        await self._clock.wait_for_progress(
            also=lambda: not selection.waits_for_state and not self._busy
        )

    async def cannot_take(self, search: ExaminerSearch | None) -> bool:
        """After a failed booking of the state's examiner: if they cannot take the claim at
        all, refuse them and send ops back to the state (True)."""
        state, selection = self._state, self._state.selection
        examiner_id = selection.examiner_id
        if not selection.by_state or examiner_id is None:
            return False
        rules = (
            [p.rule for p in search.passed_over if p.examiner_id == examiner_id] if search else []
        )
        cannot = _CANNOT_TAKE
        if state.require_profile().exam_within is not None:
            # No slot within the rule's window (CA-QME: 90 days from the request) is a ground
            # for the state to replace the examiner (8 CCR 31.5), not a wait.
            cannot |= {PassOverRule.NO_SLOT, PassOverRule.AWAY}
        if rules and rules[0] not in cannot:
            return False
        selection.lost(examiner_id, state.deadlines, workflow.now())
        state.awaiting_examiner, state.examiner_search = False, None
        await self._recorder.record(
            EventType.STATE_EXAMINER_REFUSED,
            examiner_id=examiner_id,
            rule=rules[0].value if rules else "not_on_panel",
        )
        return True

    # --- updates --------------------------------------------------------------------------------

    async def record_state_panel(self, panel: RecordStatePanel) -> ClaimStatus:
        state, profile = self._state, self._state.require_profile()
        state.selection.record_panel(panel, state.deadlines, workflow.now())
        assert profile.selection_window is not None  # a panel profile has one (profiles)
        issued = panel.issued_at or workflow.now()
        name = DeadlineName.PANEL_WINDOW.value
        due = await self._clock.due_from(issued, {name: profile.selection_window})
        if state.selection.phase is SelectionPhase.WINDOW:
            state.set_deadlines_in(Stage.SCHEDULING, due, workflow.now())
        details: dict[str, Any] = {
            "reference": panel.reference,
            "examiner_ids": list(panel.examiner_ids),
            "represented": state.selection.represented,
            "due_at": due[name].isoformat(),
        }
        step = f"panel-{state.selection.requests}"
        await self._recorder.record(
            EventType.STATE_PANEL_RECORDED,
            acted_by=panel.acted_by,
            notify=[
                Notice(who, Template.PANEL_ISSUED, step, details)
                for who in (Recipient.INSURER, Recipient.OPS)
            ],
            **details,
        )
        return state.status()

    async def record_state_assignment(self, assignment: RecordStateAssignment) -> ClaimStatus:
        state = self._state
        self._busy = True
        try:
            state.selection.record_assignment(assignment, state.deadlines, workflow.now())
            await self._selected()
            await self._recorder.record(
                EventType.STATE_ASSIGNMENT_RECORDED,
                acted_by=assignment.acted_by,
                reference=assignment.reference,
                examiner_id=assignment.examiner_id,
            )
            booked = await self._book(
                wanted=lambda: (
                    state.needs_booking and state.selection.examiner_id == assignment.examiner_id
                ),
                examiner_id=assignment.examiner_id,
                acted_by=assignment.acted_by,
            )
            why = "" if booked else self._refusal()
        finally:
            self._busy = False
        # Nothing awaited between the flag and the refusal's state change: the loop sees both.
        if not booked and await self.cannot_take(self._last_search()):
            raise refuse(f"{why}; ask the state for another examiner")
        return state.status()

    async def strike(self, strike: Strike) -> ClaimStatus:
        state = self._state
        selected = state.selection.strike(strike, state.deadlines, workflow.now())
        if selected:
            await self._selected()
        await self._recorder.record(
            EventType.PANEL_STRUCK,
            acted_by=strike.acted_by,
            party=strike.party,
            examiner_id=strike.examiner_id,
            selected=state.selection.examiner_id if selected else None,
        )
        return state.status()

    async def panel_choice(self, choice: PanelChoice) -> ClaimStatus:
        state = self._state
        state.selection.choose(choice, state.deadlines, workflow.now())
        await self._selected()
        await self._recorder.record(
            EventType.PANEL_CHOSEN,
            acted_by=choice.acted_by,
            party=choice.party,
            examiner_id=choice.examiner_id,
        )
        return state.status()

    # --- the rule's own steps -------------------------------------------------------------------

    async def _selected(self) -> None:
        """The state's examiner is known: the appointment is requested now, so the profile's
        windows that run from the request (CA-QME: noticed within 5 business days, 8 CCR
        34(a); held within 90 days, 8 CCR 31.3(e)) run from now."""
        state, profile = self._state, self._state.require_profile()
        selected = state.selection.examiner_id
        windows = {
            DeadlineName.APPOINTMENT_NOTICE.value: profile.appointment_notice_within,
            EXAM_WINDOW: profile.exam_within,
        }
        wanted = {name: window for name, window in windows.items() if window is not None}
        if not wanted or state.selection.phase is not SelectionPhase.SELECTED:
            return
        due = await self._clock.due_from(workflow.now(), wanted)
        if state.selection.examiner_id != selected or not state.needs_booking:
            return  # lost, or booked, while the windows were counted
        if EXAM_WINDOW in due:
            state.exam_window_ends = due.pop(EXAM_WINDOW)
        state.set_deadlines_in(Stage.SCHEDULING, due, workflow.now())

    async def _ask(self) -> None:
        """Ops obtain the state's panel or assignment: from the referral the first time, from
        now when a replacement is needed."""
        state, profile = self._state, self._state.require_profile()
        selection = state.selection
        request = selection.ask()
        assert profile.state_issue_within is not None  # a state selection has one (profiles)
        start = state.created_at if request == 1 else workflow.now()
        name = DeadlineName.STATE_SELECTION.value
        due = await self._clock.due_from(start, {name: profile.state_issue_within})
        if selection.phase is SelectionPhase.AWAITING_STATE:
            state.set_deadlines_in(Stage.SCHEDULING, due, workflow.now())
        details: dict[str, Any] = {
            "selection": selection.kind,
            "request": request,
            "replacing": selection.refused[-1] if request > 1 and selection.refused else None,
            "due_at": due[name].isoformat(),
        }
        await self._recorder.record(
            EventType.STATE_SELECTION_REQUESTED,
            notify=[
                Notice(Recipient.OPS, Template.STATE_SELECTION_NEEDED, f"state-{request}", details)
            ],
            **details,
        )

    async def window_closed(self, deadline: Deadline) -> None:
        """The panel's window passed (the breach of `panel_window`): the rule decides."""
        state, profile = self._state, self._state.require_profile()
        state.mark_breached(deadline)
        lost = state.selection.window_closed(state.deadlines, workflow.now())
        chooser = state.selection.chooser
        notify: list[Notice] = []
        await self._selected()
        if state.selection.phase is SelectionPhase.CHOOSING:
            name = DeadlineName.PANEL_CHOICE.value
            due = await self._clock.due_from(workflow.now(), {name: profile.escalation_grace})
            if state.selection.phase is SelectionPhase.CHOOSING:
                state.set_deadlines_in(Stage.SCHEDULING, due, workflow.now())
            told = {
                "insurer": (Recipient.INSURER,),
                "claimant": (Recipient.OPS,),
                "either": (Recipient.INSURER, Recipient.OPS),
            }[chooser or "either"]
            details = {"chooser": chooser, "due_at": due[name].isoformat()}
            step = f"choice-{state.selection.requests}"
            notify = [Notice(who, Template.PANEL_CHOICE_NEEDED, step, details) for who in told]
        await self._recorder.record(
            EventType.PANEL_WINDOW_CLOSED,
            notify=notify,
            lost=lost,
            remaining=state.selection.remaining,
            chooser=chooser,
            selected=state.selection.examiner_id,
        )
