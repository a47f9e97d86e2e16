"""Who examines, where the state picks (the profile's `selection`; patch `state-selection`).

- `vendor`: the service books the least-loaded eligible examiner (every claim before the patch).
- `state_panel_strike` (CA-QME): the state issues a panel of three; ops record it. A represented
  claimant's side and the insurer each strike one within the window and the remaining examiner
  examines; a side that lets the window pass loses its strike, and the other side chooses from
  those remaining (LC 4062.2(c)). An unrepresented claimant chooses one within the window,
  failing which the insurer chooses (LC 4062.1(c)).
- `state_assigned` (TX-DD, PA-IRE): the state assigns one examiner; ops record it.

Until the state's examiner is known the claim books nobody, and the vendor never picks instead:
an examiner the state named who cannot take the claim (licence, conflict, ...), or one lost later
(declined, let the booking lapse, replaced by the escalation chain), sends ops back to the state
for a replacement. Pure data and rules, like `ClaimState`; the workflow's side is
`workflows.selecting`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from domain.models import (
    Deadline,
    PanelChoice,
    PanelParty,
    RecordStateAssignment,
    RecordStatePanel,
    SelectionView,
    Strike,
)
from domain.names import Action, DeadlineName
from domain.refusal import refuse

SelectionKind = Literal["vendor", "state_panel_strike", "state_assigned"]


class SelectionPhase(StrEnum):
    AWAITING_STATE = "awaiting_state"  # the state's panel or assignment (or a replacement)
    WINDOW = "window"  # the panel's strikes (represented) or the claimant's choice
    CHOOSING = "choosing"  # the window closed with more than one left: a party chooses
    SELECTED = "selected"  # the state's examiner is known: book them


_PARTIES: tuple[PanelParty, ...] = ("insurer", "claimant")

# Deadlines each phase runs (met when the phase is left).
_PHASE_DEADLINES = {
    SelectionPhase.AWAITING_STATE: (
        DeadlineName.STATE_SELECTION,
        DeadlineName.STATE_SELECTION_ESCALATION,
    ),
    SelectionPhase.WINDOW: (DeadlineName.PANEL_WINDOW,),
    SelectionPhase.CHOOSING: (DeadlineName.PANEL_CHOICE, DeadlineName.PANEL_CHOICE_ESCALATION),
}

# Every deadline of the state's pick (met when its phase ends, within SCHEDULING).
SELECTION_DEADLINES = frozenset(name for names in _PHASE_DEADLINES.values() for name in names)

_SELECTION_ACTIONS = frozenset(
    {Action.RECORD_STATE_PANEL, Action.RECORD_STATE_ASSIGNMENT, Action.STRIKE, Action.PANEL_CHOICE}
)


class ExaminerSelection(BaseModel):
    kind: SelectionKind = "vendor"
    phase: SelectionPhase = SelectionPhase.SELECTED
    represented: bool = False
    # Ops were asked to obtain the state's panel or assignment for the present wait.
    asked: bool = False
    # How many times ops were asked (the first from the referral, the others replacements).
    requests: int = 0
    reference: str | None = None
    panel: list[str] = Field(default_factory=list)
    struck: dict[PanelParty, str] = Field(default_factory=dict)
    # Who chooses in CHOOSING: one party, or either.
    chooser: PanelParty | Literal["either"] | None = None
    examiner_id: str | None = None
    # Examiners the state named who could not take the claim, or were lost on it.
    refused: list[str] = Field(default_factory=list)

    # --- reading --------------------------------------------------------------------------------

    @property
    def by_state(self) -> bool:
        return self.kind != "vendor"

    @property
    def waits_for_state(self) -> bool:
        """The claim books nobody until the state's examiner is known."""
        return self.by_state and self.phase is not SelectionPhase.SELECTED

    @property
    def remaining(self) -> list[str]:
        return [e for e in self.panel if e not in self.struck.values()]

    def view(self) -> SelectionView | None:
        if not self.by_state:
            return None
        return SelectionView(
            kind=self.kind,
            phase=self.phase.value,
            represented=self.represented,
            reference=self.reference,
            panel=list(self.panel),
            struck=dict(self.struck),
            chooser=self.chooser,
            examiner_id=self.examiner_id,
        )

    # --- refusals (never change the state) ------------------------------------------------------

    def check(self, action: Action, payload: object, profile_kind: SelectionKind) -> None:
        """`profile_kind`: the profile's selection; the claim takes it up at its first booking."""
        if action in _SELECTION_ACTIONS and not self.by_state and profile_kind != "vendor":
            raise refuse("the claim is still being registered; retry shortly")
        if action is Action.ASSIGN and self.by_state:
            raise refuse(
                "the state picks the examiner of this claim: record the state's "
                + ("panel (record-state-panel)" if self._panel else "assignment")
                + " instead"
            )
        if action not in _SELECTION_ACTIONS:
            return
        if action is Action.RECORD_STATE_PANEL or action is Action.RECORD_STATE_ASSIGNMENT:
            self._check_record(action, payload)
        elif action is Action.STRIKE:
            self._check_strike(payload if isinstance(payload, Strike) else None)
        else:
            self._check_choice(payload if isinstance(payload, PanelChoice) else None)

    @property
    def _panel(self) -> bool:
        return self.kind == "state_panel_strike"

    def _check_record(self, action: Action, payload: object) -> None:
        wanted = "state_panel_strike" if action is Action.RECORD_STATE_PANEL else "state_assigned"
        if self.kind != wanted:
            raise refuse(
                "the state issues no panel on this claim"
                if action is Action.RECORD_STATE_PANEL
                else "the state assigns no examiner on this claim"
            )
        if self.phase is not SelectionPhase.AWAITING_STATE:
            raise refuse(
                f"the state's {'panel' if self._panel else 'assignment'} is already recorded "
                f"({self.reference}); a new one is asked for when its examiner is lost"
            )
        named = (
            payload.examiner_ids
            if isinstance(payload, RecordStatePanel)
            else [payload.examiner_id]
            if isinstance(payload, RecordStateAssignment)
            else []
        )
        if lost := [e for e in named if e in self.refused]:
            raise refuse(
                f"examiner {lost[0]} was refused or lost on this claim; ask the state for another"
            )

    def _check_strike(self, strike: Strike | None) -> None:
        if not self._panel:
            raise refuse("the state issues no panel on this claim")
        if not self.represented:
            raise refuse(
                "the claimant is not represented: they choose one examiner of the panel "
                "(panel-choice), nobody strikes (LC 4062.1)"
            )
        if self.phase is not SelectionPhase.WINDOW:
            raise refuse(
                "the strike window is closed" if self.panel else "no panel is recorded yet"
            )
        if strike is None:
            return
        if strike.party in self.struck:
            raise refuse(f"the {strike.party} has struck already ({self.struck[strike.party]})")
        self._check_on_panel(strike.examiner_id)

    def _check_choice(self, choice: PanelChoice | None) -> None:
        if not self._panel:
            raise refuse("the state issues no panel on this claim")
        party = choice.party if choice else None
        if self.phase is SelectionPhase.WINDOW and not self.represented:
            if party not in (None, "claimant"):
                raise refuse(
                    "the claimant chooses first; the insurer chooses only if the window "
                    "passes without a choice (LC 4062.1(c))"
                )
        elif self.phase is SelectionPhase.CHOOSING:
            if party is not None and self.chooser not in ("either", party):
                raise refuse(
                    f"the {self.chooser} chooses: the {party} "
                    + ("let the window pass" if self.represented else "may not")
                )
        elif self.phase is SelectionPhase.WINDOW:
            raise refuse("the strike window is open: strike one examiner (strike)")
        else:
            raise refuse(
                "the examiner is already selected"
                if self.phase is SelectionPhase.SELECTED
                else "no panel is recorded yet"
            )
        if choice is not None:
            self._check_on_panel(choice.examiner_id)

    def _check_on_panel(self, examiner_id: str) -> None:
        if examiner_id not in self.panel:
            raise refuse("that examiner is not on the claim's panel")
        if examiner_id not in self.remaining:
            raise refuse("that examiner is struck from the panel")

    # --- moves ----------------------------------------------------------------------------------

    def begin(self, kind: SelectionKind, represented: bool) -> None:
        """The claim's profile has the state pick: wait for it."""
        self.kind, self.represented = kind, represented
        self.phase = SelectionPhase.AWAITING_STATE

    def ask(self) -> int:
        """Ops are asked to obtain the state's panel or assignment; which request this is."""
        self.asked = True
        self.requests += 1
        return self.requests

    def record_panel(
        self, panel: RecordStatePanel, deadlines: dict[DeadlineName, Deadline], now: datetime
    ) -> None:
        self._leave(deadlines, now)
        self.reference, self.panel, self.struck = panel.reference, list(panel.examiner_ids), {}
        self.phase = SelectionPhase.WINDOW

    def record_assignment(
        self,
        assignment: RecordStateAssignment,
        deadlines: dict[DeadlineName, Deadline],
        now: datetime,
    ) -> None:
        self._leave(deadlines, now)
        self.reference, self.examiner_id = assignment.reference, assignment.examiner_id
        self.phase = SelectionPhase.SELECTED

    def strike(
        self, strike: Strike, deadlines: dict[DeadlineName, Deadline], now: datetime
    ) -> bool:
        """Record a strike; True when it leaves one examiner (both sides struck)."""
        self.struck[strike.party] = strike.examiner_id
        if len(self.struck) < len(_PARTIES):
            return False
        self._select(self.remaining[0], deadlines, now)
        return True

    def choose(
        self, choice: PanelChoice, deadlines: dict[DeadlineName, Deadline], now: datetime
    ) -> None:
        self._select(choice.examiner_id, deadlines, now)

    def window_closed(self, deadlines: dict[DeadlineName, Deadline], now: datetime) -> list[str]:
        """The window passed: the sides that did not strike lose their strike (represented;
        with one examiner left they are selected, else the side that struck chooses, or either
        when neither did), or the insurer chooses (unrepresented). Returns the sides that lost
        their strike or choice."""
        if self.phase is not SelectionPhase.WINDOW:
            return []
        if not self.represented:
            self._leave(deadlines, now)
            self.phase, self.chooser = SelectionPhase.CHOOSING, "insurer"
            return ["claimant"]
        lost: list[str] = [p for p in _PARTIES if p not in self.struck]
        if len(self.remaining) == 1:
            self._select(self.remaining[0], deadlines, now)
            return lost
        self._leave(deadlines, now)
        struck = [p for p in _PARTIES if p in self.struck]
        self.phase = SelectionPhase.CHOOSING
        self.chooser = struck[0] if len(struck) == 1 else "either"
        return lost

    def lost(
        self, examiner_id: str, deadlines: dict[DeadlineName, Deadline], now: datetime
    ) -> bool:
        """The state's examiner cannot (or no longer can) examine: refused at booking, declined,
        let the booking lapse, or replaced. Ops go back to the state; True if so."""
        if not self.by_state or examiner_id != self.examiner_id:
            return False
        self._leave(deadlines, now)
        notice = deadlines.get(DeadlineName.APPOINTMENT_NOTICE)  # no appointment to notice now
        if notice is not None and notice.met_at is None:
            notice.met_at = now
        self.refused.append(examiner_id)
        self.phase, self.asked = SelectionPhase.AWAITING_STATE, False
        self.reference, self.panel, self.struck = None, [], {}
        self.chooser = self.examiner_id = None
        return True

    def _select(
        self, examiner_id: str, deadlines: dict[DeadlineName, Deadline], now: datetime
    ) -> None:
        self._leave(deadlines, now)
        self.examiner_id, self.phase, self.chooser = examiner_id, SelectionPhase.SELECTED, None

    def _leave(self, deadlines: dict[DeadlineName, Deadline], now: datetime) -> None:
        """The present phase is over: its deadlines are met."""
        for name in _PHASE_DEADLINES.get(self.phase, ()):
            deadline = deadlines.get(name)
            if deadline is not None and deadline.met_at is None:
                deadline.met_at = now
