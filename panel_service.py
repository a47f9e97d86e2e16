"""The examiner panel for a caller: list with load, add, edit, deactivate, away periods. The one
path the API (`api.routes.examiners`), the CLI (`cli.panel`) and the console share; every method
takes the `Caller` and requires `Capability.MANAGE_PANEL` (403 otherwise), but the away periods,
which the examiner keeps too (`domain.access.may_manage_away`).

Away periods (`away`, `set_away`): whole days, `ends_on` inclusive, read in the timezone the
booking uses (the claim's profile timezone); the booking never offers a slot on one
(`store.panel.book`). Setting them moves no booking: the claims already booked with the examiner
on a new away day come back as `conflicts`, for ops to reschedule or assign.

Deactivating takes the examiner off the panel (the booking SQL books only active examiners) and
moves their open bookings on through each claim's own actions, sent by the caller as any ops
action is (`ClaimService`), so no workflow code changes:

- SCHEDULING (booked, not confirmed): `decline-appointment` on the examiner's behalf. The slot is
  released (the examiner's appointment request closed), the examiner is off this claim, and the
  claim books the next eligible examiner at once.
- EXAM (confirmed) before the appointment starts: `reschedule` (requested by ops). The same,
  except that the examiner is not marked off the claim (being inactive keeps them out).
- EXAM once the appointment has started: left; the exam may have been held, ops record it or
  reschedule by hand.
- REPORT (the examiner is writing the report) and REVIEW (they may be asked an addendum): left.
  The report deadline's escalation replaces a late examiner; ops are told through the result.

Each action carries an idempotency key made of examiner, claim and appointment, so a retried
deactivation (or two people deactivating at once) moves each booking once.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError

from claim_service import ClaimService
from domain.access import Capability, may_manage_away
from domain.errors import (
    ActionNotAllowed,
    ClaimError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
)
from domain.models import (
    INTAKE,
    AwayPeriods,
    Caller,
    Deactivation,
    Examiner,
    ExaminerAway,
    ExaminerEdited,
    ExaminerPatch,
    ExaminerWithLoad,
    LeftClaim,
    RebookedClaim,
    Stage,
)
from domain.names import Action
from store import claims as claims_store
from store import panel as panel_store

# Recorded in each action's payload (the claim's history): why the booking was released.
DEACTIVATED = "examiner_deactivated"
# How many claims are acted on at once, and how long the answer waits for the next bookings.
_CONCURRENCY = 8
_REBOOK_WAIT_SECONDS = 3.0
M = TypeVar("M", Examiner, ExaminerPatch, AwayPeriods)


class Panel:
    def __init__(self, pool: asyncpg.Pool, claims: ClaimService | None = None) -> None:
        """`claims` moves a deactivated examiner's bookings: without it (a listing, say), only
        what needs no workflow can be done."""
        self._pool = pool
        self._optional_claims = claims

    @property
    def _claims(self) -> ClaimService:
        if self._optional_claims is None:
            raise Unavailable("moving bookings needs the workflow service")
        return self._optional_claims

    # --- reading and editing ---------------------------------------------------------------

    async def list(self, caller: Caller) -> list[ExaminerWithLoad]:
        ClaimService.require(caller, Capability.MANAGE_PANEL)
        return await panel_store.list_with_load(self._pool)

    async def get(self, caller: Caller, examiner_id: str) -> ExaminerWithLoad:
        """The examiner as listed (403 before 404: the panel is ops' only)."""
        ClaimService.require(caller, Capability.MANAGE_PANEL)
        found = await panel_store.get_with_load(self._pool, examiner_id)
        if found is None:
            raise NotFound("no such examiner")
        return found

    async def add(self, caller: Caller, new: Examiner | Any) -> Examiner:
        """Add an examiner (a model, or the JSON a caller sent); 409 when the id or NPI is
        already on the panel, 422 naming the invalid fields."""
        ClaimService.require(caller, Capability.MANAGE_PANEL)
        examiner = new if isinstance(new, Examiner) else _parse(Examiner, new, "the examiner")
        if not await panel_store.insert_examiner(self._pool, examiner):
            raise Conflict("an examiner with this id or NPI is already on the panel")
        return examiner

    async def edit(
        self, caller: Caller, examiner_id: str, patch: ExaminerPatch | Any
    ) -> ExaminerEdited:
        """Apply a merge patch. `active: false` deactivates (see the module): the answer then
        carries what happened to the examiner's claims. Sending it again completes a
        deactivation that was interrupted."""
        await self.get(caller, examiner_id)
        if not isinstance(patch, ExaminerPatch):
            patch = _parse(ExaminerPatch, patch, "the examiner's edit")
        changes = patch.changes()
        if not await panel_store.update_examiner(self._pool, examiner_id, changes):
            raise NotFound("no such examiner")
        if changes.get("active") is False:
            done = await self._rebook_all(caller, examiner_id)
            return ExaminerEdited(**done.examiner.model_dump(), deactivation=done)
        return ExaminerEdited(**(await self.get(caller, examiner_id)).model_dump())

    async def deactivate(self, caller: Caller, examiner_id: str) -> Deactivation:
        """Take the examiner off the panel and move their open bookings on (see the module)."""
        await self.get(caller, examiner_id)
        await panel_store.update_examiner(self._pool, examiner_id, {"active": False})
        return await self._rebook_all(caller, examiner_id)

    # --- away periods ----------------------------------------------------------------------

    async def away(self, caller: Caller, examiner_id: str) -> ExaminerAway:
        """The examiner's away periods, soonest first, with the claims booked on an away day.
        403 (whatever the id) for a caller other than ops or that examiner, then 404."""
        await self.may_keep_away(caller, examiner_id)
        found = await panel_store.away_periods(self._pool, [examiner_id])
        periods = found.get(examiner_id, [])
        conflicts = await panel_store.away_conflicts(self._pool, examiner_id, periods)
        return ExaminerAway(examiner_id=examiner_id, periods=periods, conflicts=conflicts)

    async def set_away(
        self, caller: Caller, examiner_id: str, periods: AwayPeriods | Any
    ) -> ExaminerAway:
        """Replace the examiner's away periods (a model, or the JSON a caller sent: 422 naming
        the fields). No booking moves: `conflicts` lists the claims booked on an away day."""
        await self.may_keep_away(caller, examiner_id)
        if not isinstance(periods, AwayPeriods):
            periods = _parse(AwayPeriods, periods, "the away periods")
        async with self._pool.acquire() as conn:
            if not await panel_store.replace_away(conn, examiner_id, periods.periods, caller):
                raise NotFound("no such examiner")
        return await self.away(caller, examiner_id)

    async def may_keep_away(self, caller: Caller, examiner_id: str) -> None:
        """403 unless the caller may keep the examiner's away periods, then 404 if unknown."""
        if not may_manage_away(caller, examiner_id):
            raise Forbidden(f"the {caller.role} role may not keep this examiner's away periods")
        if await panel_store.get_with_load(self._pool, examiner_id) is None:
            raise NotFound("no such examiner")

    # --- deactivation ----------------------------------------------------------------------

    async def _rebook_all(self, caller: Caller, examiner_id: str) -> Deactivation:
        bookings = await panel_store.open_bookings(self._pool, examiner_id)
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(booking: panel_store.OpenBooking) -> RebookedClaim | LeftClaim | None:
            async with gate:
                return await self._rebook(caller, examiner_id, booking)

        outcomes = await asyncio.gather(*(one(b) for b in bookings))
        rebooked = [o for o in outcomes if isinstance(o, RebookedClaim)]
        left = {o.claim_id: o for o in outcomes if isinstance(o, LeftClaim)}
        for claim_id, stage in await panel_store.claims_after_exam(self._pool, examiner_id):
            left.setdefault(claim_id, _after_exam(claim_id, stage))
        if rebooked:
            rebooked = await self._booked_with(rebooked, examiner_id)
        examiner = await self.get(caller, examiner_id)
        return Deactivation(
            examiner=examiner,
            rebooked=sorted(rebooked, key=lambda r: r.claim_id),
            left=sorted(left.values(), key=lambda r: r.claim_id),
        )

    async def _rebook(
        self, caller: Caller, examiner_id: str, booking: panel_store.OpenBooking
    ) -> RebookedClaim | LeftClaim | None:
        """Release one booking through its claim's action; None when the claim is closed (the
        reconciler releases what a closed claim held)."""
        try:
            current = await self._claims.get(booking.claim_id, caller)
        except NotFound:
            return None
        if current.status == "closed":
            return None
        stage = current.stage
        if (
            current.examiner is None
            or current.examiner.id != examiner_id
            or current.appointment is None
            or current.appointment.id != booking.appointment_id
        ):
            return LeftClaim(
                claim_id=current.claim_id,
                stage=stage,
                reason="not_current",
                message="the claim no longer waits on this booking; the booking was left as is",
            )
        body: dict[str, str]
        if stage is Stage.SCHEDULING:
            action, body = Action.DECLINE_APPOINTMENT, {"reason": DEACTIVATED}
        elif stage is Stage.EXAM and current.appointment.starts_at > datetime.now(UTC):
            action = Action.RESCHEDULE
            body = {"reason": DEACTIVATED, "requested_by": "ops"}
        elif stage is Stage.EXAM:
            return LeftClaim(
                claim_id=current.claim_id,
                stage=stage,
                reason="exam_time_passed",
                message="the appointment has started: the exam may have been held; record its "
                "outcome, or reschedule the claim by hand",
            )
        else:
            return _after_exam(current.claim_id, stage)
        key = f"panel-deactivate:{examiner_id}:{booking.appointment_id}"
        try:
            self._claims.authorize(caller, action)
            await self._claims.act_on(
                current, action, body, caller, idempotency_key=key, cause=DEACTIVATED
            )
        except ActionNotAllowed as refused:
            return LeftClaim(
                claim_id=current.claim_id, stage=stage, reason="refused", message=refused.message
            )
        except ClaimError as failed:
            if failed.status_code == 403:
                raise
            return LeftClaim(
                claim_id=current.claim_id,
                stage=stage,
                reason="unavailable",
                message=f"{failed.message} (deactivate again to retry)",
            )
        return RebookedClaim(claim_id=current.claim_id, stage=stage, action=action.value)

    async def _booked_with(
        self, rebooked: builtins.list[RebookedClaim], old_examiner: str
    ) -> builtins.list[RebookedClaim]:
        """Each claim's new examiner, waiting a little for the claims to book (they do so on
        their own, right after the release)."""
        deadline = time.monotonic() + _REBOOK_WAIT_SECONDS
        found: dict[str, str] = {}
        while True:
            for claim in rebooked:
                if claim.claim_id in found:
                    continue
                status = await claims_store.get_status(self._pool, claim.claim_id)
                booked = status and status.appointment and status.examiner
                if booked and booked.id != old_examiner:
                    found[claim.claim_id] = booked.id
            if len(found) == len(rebooked) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        return [c.model_copy(update={"examiner_id": found.get(c.claim_id)}) for c in rebooked]


def _after_exam(claim_id: str, stage: Stage) -> LeftClaim:
    if stage is Stage.REPORT:
        return LeftClaim(
            claim_id=claim_id,
            stage=stage,
            reason="report_stage",
            message="the examiner examined the claimant and writes the report: not re-booked; "
            "the report deadline escalates as usual (a late examiner is replaced)",
        )
    return LeftClaim(
        claim_id=claim_id,
        stage=stage,
        reason="in_review",
        message="the report is filed: not re-booked; an addendum the reviewer asks for still "
        "goes to this examiner",
    )


def _parse(model: type[M], body: Any, what: str) -> M:
    """What a caller sent, as `model`; else 422 naming the fields, never echoing a value."""
    try:
        return model.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, f"{what} is invalid") from None
