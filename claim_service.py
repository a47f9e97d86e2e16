"""Starting claims, reading them and acting on them, for a caller: the one code path the HTTP API
and the CLI share. Every method takes the `Caller` and enforces `domain.access`: a claim outside
the caller's scope is "no such claim", an action their role may not take is forbidden."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from codec import Sealer
from domain import search_attributes as sa
from domain.access import Capability, can_read, may, may_act, may_act_for, may_read_report
from domain.appeal import REASON_OUTCOME
from domain.delivery import CLINICAL_DETAILS, CLINICAL_ROLES
from domain.envelope import REFUSAL
from domain.errors import (
    ActionNotAllowed,
    ClaimError,
    DuplicateClaimNumber,
    Forbidden,
    Gone,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    ReportNotAvailable,
    Unavailable,
)
from domain.ids import claim_id_for, claimant_key, plausible_claim_id, workflow_id_for
from domain.models import (
    AppealDecision,
    Caller,
    ClaimantLookup,
    ClaimEvent,
    ClaimPage,
    ClaimQuery,
    ClaimReport,
    ClaimStatus,
    DecisionInput,
    PanelChoice,
    PassedOver,
    RecordsReceived,
    Referral,
    SafetyCaseEvent,
    Stage,
    Strike,
    Superseded,
    TimelineEvent,
)
from domain.names import SAFETY_CASE_ACTIONS, Action, Query, Role, ServiceUpdate
from domain.parsing import (
    claim_intake,
    decode_cursor,
    encode_cursor,
    parse_action,
    parse_legal_hold,
    referral_fingerprint,
    request_fingerprint,
)
from domain.profiles import PROFILES, get_profile
from domain.refusal import ACTION_NOT_ALLOWED
from domain.timeline import hidden_from, may_read_note, sees_case_steps, who_acted_as_seen_by
from settings import Settings
from store import case_events, idempotency, inbox
from store import claims as claims_store
from store import lineage as lineage_store
from store import panel as panel_store
from store import reports as reports_store
from store import retention as retention_store
from workflows import ClaimWorkflow

T = TypeVar("T")

log = logging.getLogger("ime.claims")


def start_options(referral: Referral, workflow_id: str, settings: Settings) -> dict[str, Any]:
    """How a claim's workflow is started: its id, queue, policies (a repeat start finds the
    running one), and the search attributes it has from the first moment (never PHI)."""
    return {
        "id": workflow_id,
        "task_queue": settings.task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": TypedSearchAttributes(
            [
                SearchAttributePair(sa.CLAIM_STAGE, Stage.REFERRAL.value),
                SearchAttributePair(sa.JURISDICTION, referral.jurisdiction),
                SearchAttributePair(sa.INSURER_ID, referral.insurer_id),
            ]
        ),
        "static_summary": f"IME claim · {referral.jurisdiction} · {referral.insurer_id}",
    }


class ClaimService:
    def __init__(
        self, pool: asyncpg.Pool, client: Client, settings: Settings, sealer: Sealer
    ) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings
        # Seals the claimant's contact at rest (the dispatcher opens it to send their notices).
        self._sealer = sealer

    # --- starting ---------------------------------------------------------------------------

    async def start(self, referral: Referral, caller: Caller) -> tuple[ClaimStatus, bool]:
        """Start the claim's workflow once per insurer + claim number.

        Returns the status and whether this call created the claim. Repeating the same referral is
        harmless (and restarts a workflow whose start was interrupted); reusing a claim number
        with a different referral is a conflict.
        """
        self.require(caller, Capability.START_CLAIM)
        if caller.role is Role.INSURER and referral.insurer_id != caller.insurer_id:
            raise Forbidden("an insurer key starts claims for its own insurer only")
        claim_id = claim_id_for(
            self._settings.id_secret, referral.insurer_id, referral.claim_number
        )
        workflow_id = workflow_id_for(claim_id)
        initial = ClaimStatus.initial(
            referral, claim_id=claim_id, workflow_id=workflow_id, at=datetime.now(UTC)
        )
        fingerprint = referral_fingerprint(referral)
        claimant = referral.claimant
        # What the claimant's letters need (delivery.mail): where to send and address them, and
        # whether the appointment notice speaks of an interpreter. Sealed at rest.
        contact = {
            "name": claimant.full_name,
            "email": claimant.email,
            "phone": claimant.phone,
            "address": claimant.address.model_dump(mode="json"),
            "language": claimant.language,
            "interpreter_needed": claimant.interpreter_needed,
        }
        key = claimant_key(
            self._settings.id_secret, claimant.full_name, claimant.date_of_birth.isoformat()
        )
        async with self._pool.acquire() as conn:
            facts = panel_store.BookingFacts(
                specialty=referral.requested_specialty.value,
                licence_state=get_profile(referral.jurisdiction).examiner_licence_state(
                    claimant.address.state
                ),
                treating_npis=list(claimant.treating_provider_npis),
            )
            created, existing = await claims_store.insert_new_claim(
                conn, initial, fingerprint, self._sealer.seal_json(contact), key, facts
            )
        if not created and existing is not None and existing != fingerprint:
            raise DuplicateClaimNumber(
                "this claim number is already in use by a different referral from this insurer",
                details={"claim_id": claim_id},
            )
        if not created:
            existing_status = await self.get(claim_id, caller)
            if existing_status.status == "closed":
                # Closed claims stay closed, even after Temporal's retention forgot the workflow.
                return existing_status, False
        try:
            await self._client.start_workflow(
                ClaimWorkflow.run,
                claim_intake(referral, self._settings.id_secret, referred_by=caller),
                **start_options(referral, workflow_id, self._settings),
            )
        except WorkflowAlreadyStartedError:
            pass  # closed earlier: the same claim again
        except RPCError as err:
            raise Unavailable("the workflow service is unavailable; retry shortly") from err
        return await self.get(claim_id, caller), created

    # --- reading ----------------------------------------------------------------------------

    async def get(self, claim_id: str, caller: Caller) -> ClaimStatus:
        """The claim's status, if the caller may read it; else "no such claim" (404)."""
        found = (
            await claims_store.get_scoped(self._pool, claim_id)
            if plausible_claim_id(claim_id)
            else None
        )
        if found is None or not can_read(caller, found[1]):
            raise NotFound("no such claim")
        return found[0]

    async def get_json(self, claim_id: str, caller: Caller) -> bytes:
        """The claim's status as JSON, if the caller may read it; else "no such claim" (404).

        Every reader gets the whole status (no role sees a narrower one), so a row the current
        model wrote is served as stored, without decoding and re-encoding it; an older row goes
        through the model, whose validators fill in what its shape lacks."""
        found = (
            await claims_store.get_scoped_json(self._pool, claim_id)
            if plausible_claim_id(claim_id)
            else None
        )
        if found is None or not can_read(caller, found.scope):
            raise NotFound("no such claim")
        if found.current:
            return found.json.encode()
        return ClaimStatus.model_validate_json(found.json).model_dump_json().encode()

    async def list_claims(
        self, query: ClaimQuery, caller: Caller, *, claimant: ClaimantLookup | None = None
    ) -> ClaimPage:
        """A page of the claims the caller may read, in the query's order (oldest update first,
        or soonest deadline first); pass `next_cursor` back for the next page. With `claimant`,
        only that claimant's claims, found by the keyed hash of their name and date of birth
        (neither is stored or looked up in clear)."""
        self.require(caller, Capability.LIST_CLAIMS)
        key = None
        if claimant is not None:
            key = claimant_key(
                self._settings.id_secret, claimant.full_name, claimant.date_of_birth.isoformat()
            )
        found = claims_store.ClaimFilter(
            stage=query.stage.value if query.stage else None,
            outcome=query.outcome.value if query.outcome else None,
            jurisdiction=query.jurisdiction,
            insurer_id=query.insurer_id,
            overdue=query.overdue,
            safety_hold=query.safety_hold,
            updated_after=query.updated_after,
            claim_number=query.claim_number,
            claimant_key=key,
            sort=query.sort,
        )
        items = await claims_store.list_statuses(
            self._pool,
            caller=caller,
            filter=found,
            after=decode_cursor(query.cursor, query.sort) if query.cursor else None,
            limit=query.limit,
        )
        last = items[-1] if len(items) == query.limit else None
        return ClaimPage(items=items, next_cursor=encode_cursor(last, query.sort) if last else None)

    async def examiner_choices(self, claim: ClaimStatus, caller: Caller) -> list[PassedOver]:
        """For ops' assign form: every examiner of the panel with the first rule that keeps them
        off this claim, by the booking's own rules (`store.panel.search`); `no_slot` there means
        none did (whether a slot is free is found by booking). Empty for a claim referred before
        its booking facts were kept."""
        self.authorize(caller, Action.ASSIGN)
        async with self._pool.acquire() as conn:
            facts = await claims_store.booking_facts(conn, claim.claim_id)
            if facts is None or facts.claimant_key is None:
                return []
            return await panel_store.choices(conn, claim.claim_id, facts)

    async def events(self, claim_id: str, caller: Caller) -> list[TimelineEvent]:
        return await self.timeline(await self.get(claim_id, caller), caller)

    async def timeline(self, claim: ClaimStatus, caller: Caller) -> list[TimelineEvent]:
        """The events of a claim `get` gave the caller, as the caller may see them: for those
        who act on the safety branch, merged in time order with its safety cases' steps; for
        everyone else without that branch's steps (`domain.timeline`)."""
        claim_events = await claims_store.list_events(self._pool, claim.claim_id)
        events = [TimelineEvent.model_validate(e, from_attributes=True) for e in claim_events]
        events = await self._with_notes(claim.claim_id, claim_events, events, caller)
        if any(e.lineage for e in claim_events):
            # Reset by an operator: what the run before did past the reset point is marked.
            lineages = await lineage_store.of_claim(self._pool, claim.claim_id)
            events = [
                _superseded(event, lineages.superseded_by(claim_event.lineage, claim_event.seq))
                for event, claim_event in zip(events, claim_events, strict=True)
            ]
        if sees_case_steps(caller.role):
            steps = await case_events.for_claim(self._pool, claim.claim_id)
            # Clinical notes (a resolution's) to clinicians only.
            clinical = (
                await case_events.sealed_notes(self._pool, claim.claim_id)
                if caller.role in CLINICAL_ROLES
                else {}
            )
            # A case's step has no place in the claim's log (`seq`): `case_id` says whose it is.
            events += [
                TimelineEvent.model_validate(s, from_attributes=True).model_copy(
                    update={"seq": None, "note": self._clinical_note(s, clinical)}
                )
                for s in steps
            ]
        # Legal holds and the records' destruction: steps of the claim's record keeping, kept
        # apart from the workflow's log (`store.retention`), for every reader of the claim.
        kept = await retention_store.for_claim(self._pool, claim.claim_id)
        events += [
            TimelineEvent(
                claim_id=k.claim_id,
                type=k.type,
                stage=Stage(k.stage),
                actor=k.actor,
                at=k.at,
                details=k.details,
                acted_by=k.acted_by,
            )
            for k in kept
        ]
        if kept or sees_case_steps(caller.role):
            events.sort(key=lambda e: e.at)  # stable: each log keeps its own order on a tie
        hidden = hidden_from(caller.role)
        return [_as_seen_by(caller, e) for e in events if e.type not in hidden]

    async def legal_hold(
        self, claim: ClaimStatus, caller: Caller, body: Any, *, held: bool
    ) -> ClaimStatus:
        """Put the records of a claim `get` gave the caller under a legal hold, or lift it (ops
        only, 403 for the others): the retention sweep leaves a held claim. Setting what is
        already set changes nothing and records nothing."""
        self.require(caller, Capability.HOLD_RECORDS)
        request = parse_legal_hold(body)
        await retention_store.set_legal_hold(
            self._pool, claim.claim_id, held=held, reason=request.reason, caller=caller
        )
        return await self.get(claim.claim_id, caller)

    async def report(self, claim: ClaimStatus, caller: Caller) -> ClaimReport:
        """The report of a claim `get` gave the caller: the accepted version, else the latest.
        Roles that read the claim but not its report get "not found", as everyone else does."""
        if not may_read_report(caller):
            raise NotFound("no such report")
        found = await reports_store.current(self._pool, claim.claim_id, self._sealer)
        if found is None and await retention_store.report_destroyed(self._pool, claim.claim_id):
            raise Gone("the report's contents were destroyed at the end of the retention period")
        if found is None:
            raise ReportNotAvailable("no report has been filed for this claim yet")
        return found

    async def questions(self, claim: ClaimStatus, caller: Caller) -> list[str]:
        """The referral's questions of a claim `get` gave the caller, in the order the report
        answers them; for the report's readers only (everyone else: "not found"). Asked of the
        claim's workflow: the referral is kept only in its encrypted history, never in
        Postgres, so this read needs Temporal (503 while it cannot answer; 404 once the
        workflow is past Temporal's retention)."""
        if not may_read_report(caller):
            raise NotFound("no such questions")
        handle = self._client.get_workflow_handle(claim.workflow_id)
        try:
            found: list[str] = await handle.query(Query.REFERRAL_QUESTIONS, result_type=list[str])
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise NotFound(
                    "the referral's questions are no longer kept for this claim"
                ) from None
            raise Unavailable("the workflow service is unavailable; retry shortly") from err
        except WorkflowQueryFailedError as err:
            raise Unavailable("the claim could not answer; retry shortly") from err
        return found

    async def safety_cases(
        self, caller: Caller, *, claim: ClaimStatus | None = None
    ) -> list[case_events.CaseSummary]:
        """The clinician's safety cases: the open ones, unacknowledged first (the console's
        Safety cases page), or every case of one claim `get` gave them (the case page); each
        with the details of its first page, clinical ones only for the clinical chain."""
        self.require(caller, Capability.WORK_SAFETY_CASES)
        found = await case_events.summaries(
            self._pool,
            self._sealer,
            claim_id=claim.claim_id if claim else None,
            include_resolved=claim is not None,
        )
        if caller.role in CLINICAL_ROLES:
            return found
        return [
            replace(c, details={k: v for k, v in c.details.items() if k not in CLINICAL_DETAILS})
            for c in found
        ]

    @staticmethod
    def require(caller: Caller, capability: Capability) -> None:
        if not may(caller, capability):
            raise Forbidden(f"the {caller.role} role may not do this")

    # --- acting -----------------------------------------------------------------------------

    def authorize(self, caller: Caller, action: Action) -> None:
        """After `get`: a claim the caller can read, an action their role may not take (403)."""
        if not may_act(caller, action):
            raise Forbidden(f"the {caller.role} role may not {action} a claim")

    async def act(
        self,
        claim_id: str,
        action: Action,
        body: Any,
        caller: Caller,
        *,
        idempotency_key: str | None = None,
    ) -> ClaimStatus:
        """Read scope (404), permission (403), payload (422), then the action (200/409)."""
        current = await self.get(claim_id, caller)
        self.authorize(caller, action)
        return await self.act_on(current, action, body, caller, idempotency_key=idempotency_key)

    async def act_on(
        self,
        current: ClaimStatus,
        action: Action,
        body: Any,
        caller: Caller,
        *,
        idempotency_key: str | None = None,
        cause: str | None = None,
    ) -> ClaimStatus:
        """Perform an action the caller was authorised for on `current`. With an
        `idempotency_key`, a retry of the same request gets the first answer back and applies
        nothing twice; the same key with a different request is refused (422). `cause`: why the
        service itself takes the action (recorded with its event; never from a caller)."""
        payload = parse_action(action, body, caller, cause=cause)
        if isinstance(payload, DecisionInput | AppealDecision):
            _check_reason_code(current, payload)
        if isinstance(payload, Strike | PanelChoice) and not may_act_for(caller, payload.party):
            raise Forbidden(f"the {caller.role} role may not act for the {payload.party}")
        if idempotency_key is None:
            return await self._perform(current, action, payload, update_id=None)
        who = caller.key_id or f"{caller.role}:{caller.key_name}"
        fingerprint = request_fingerprint(current.claim_id, action, body)
        stored = await idempotency.find(self._pool, who, idempotency_key)
        if stored is not None:
            if stored.request_hash != fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used for a different request",
                    details=[{"field": "Idempotency-Key", "message": "use a new key"}],
                )
            if stored.status == 200:
                return ClaimStatus.model_validate(stored.body)
            raise ActionNotAllowed(stored.body["message"])
        update_id = "idem-" + request_fingerprint(who, action, idempotency_key)
        try:
            status = await self._perform(current, action, payload, update_id=update_id)
        except ActionNotAllowed as refused:
            await self._keep(who, idempotency_key, current, action, fingerprint, refused)
            raise
        await self._keep(who, idempotency_key, current, action, fingerprint, status)
        return status

    async def _perform(
        self, current: ClaimStatus, action: Action, payload: Any, *, update_id: str | None
    ) -> ClaimStatus:
        if action in SAFETY_CASE_ACTIONS:
            # The safety case outlives its claim, so these work on a closed claim too.
            case_id: str | None = await self._call(
                self._client.get_workflow_handle(current.workflow_id).query(
                    Query.OPEN_SAFETY_CASE, result_type=str
                )
            )
            if not case_id:
                raise ActionNotAllowed("the claim has no open safety case")
            if action is Action.SAFETY_RESOLVE and await inbox.open_duty_to_protect(
                self._pool, case_id
            ):
                raise ActionNotAllowed(
                    "the duty-to-protect task of this case is still open: close it in the ops "
                    "inbox with whom was warned, then resolve"
                )
            await self._update(case_id, action, payload, update_id, result_type=None)
            return await self._reread(current)
        if current.status == "closed" and action is Action.APPEAL:
            return await self._appeal(current, payload, update_id)
        if current.status == "closed":
            if update_id is None:
                raise ActionNotAllowed("the claim is closed")
            # Perhaps a retry of the very action that closed the claim, whose answer was lost
            # (the caller timed out, the API process died) before it was kept: the workflow
            # keeps the outcome of every update it ran, also once closed, and gives that first
            # answer back for the same update id; any other update of a closed claim is refused.
            try:
                closing: ClaimStatus = await self._update(
                    current.workflow_id, action, payload, update_id, ClaimStatus
                )
            except ActionNotAllowed:
                raise ActionNotAllowed("the claim is closed") from None
            return closing
        status: ClaimStatus = await self._update(
            current.workflow_id, action, payload, update_id, ClaimStatus
        )
        return status

    async def _with_notes(
        self,
        claim_id: str,
        claim_events: list[ClaimEvent],
        events: list[TimelineEvent],
        caller: Caller,
    ) -> list[TimelineEvent]:
        """What people wrote when they acted, opened for those who may read each one."""
        sealed = await claims_store.sealed_notes(self._pool, claim_id)
        if not sealed:
            return events
        shown = []
        for event, logged in zip(events, claim_events, strict=True):
            note = sealed.get((logged.lineage, logged.seq))
            if note is not None and may_read_note(caller, logged.acted_by):
                binding = claims_store.note_binding(claim_id, logged.lineage, logged.seq)
                event = event.model_copy(update={"note": self._sealer.open(note, binding).decode()})
            shown.append(event)
        return shown

    def _clinical_note(
        self, step: SafetyCaseEvent, sealed: dict[tuple[str, int], bytes]
    ) -> str | None:
        if step.seq is None or (note := sealed.get((step.case_id, step.seq))) is None:
            return None
        return self._sealer.open(note, case_events.note_binding(step.case_id, step.seq)).decode()

    async def records_arrived(self, claim_id: str, document_id: str, caller: Caller) -> None:
        """A `records` document of the claim was stored (by `caller`, already allowed to):
        the claim meets its records lead and tells its examiner. Sent once per document (the
        update id), so a retried upload hook is answered by the first; a closed claim is not
        told."""
        status = await claims_store.get_status(self._pool, claim_id)
        if status is None or status.status == "closed":
            return
        arrival = RecordsReceived(document_id=document_id, acted_by=caller)
        await self._update(
            status.workflow_id,
            ServiceUpdate.RECORDS_RECEIVED,
            arrival,
            f"records-{document_id}",
            ClaimStatus,
        )

    async def _reread(self, current: ClaimStatus) -> ClaimStatus:
        status = await claims_store.get_status(self._pool, current.claim_id)
        return status or current

    async def _keep(
        self,
        who: str,
        key: str,
        current: ClaimStatus,
        action: Action,
        fingerprint: str,
        answer: ClaimStatus | ClaimError,
    ) -> None:
        if isinstance(answer, ClaimStatus):
            status, body = 200, answer.model_dump(mode="json")
        else:
            status, body = answer.status_code, {"code": answer.code, "message": answer.message}
        stored = idempotency.StoredAnswer(
            claim_id=current.claim_id,
            action=action,
            request_hash=fingerprint,
            status=status,
            body=body,
        )
        await idempotency.keep(self._pool, who, key, stored)

    async def _update(
        self,
        workflow_id: str,
        action: Action | ServiceUpdate,
        payload: Any,
        update_id: str | None,
        result_type: type | None,
    ) -> Any:
        handle = self._client.get_workflow_handle(workflow_id)
        timeout = self._settings.action_timeout_seconds
        call = handle.execute_update(
            action,
            payload,
            id=update_id,
            result_type=result_type,
            rpc_timeout=timedelta(seconds=timeout),
        )
        try:
            # The SDK keeps polling an accepted update until it completes: bound the whole wait.
            async with asyncio.timeout(timeout):
                return await self._call(call)
        except TimeoutError:
            raise Unavailable(
                "the claim did not answer in time; retry with the same Idempotency-Key"
            ) from None

    async def _appeal(
        self, current: ClaimStatus, payload: Any, update_id: str | None
    ) -> ClaimStatus:
        """An appeal reaches a closed claim whose run still waits for it (the window open);
        once the run has ended, the refusal says why from the claim as it closed."""
        try:
            status: ClaimStatus = await self._update(
                current.workflow_id, Action.APPEAL, payload, update_id, ClaimStatus
            )
        except ActionNotAllowed as refused:
            if str(refused) != _NOT_ACCEPTING:
                raise
            raise ActionNotAllowed(_appeal_refusal(current)) from None
        return status

    @staticmethod
    async def _call(call: Awaitable[T]) -> T:
        """Temporal's answers as the service's errors: 409 for a refused action, 503 when the
        workflow service cannot answer."""
        try:
            return await call
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ACTION_NOT_ALLOWED:
                if cause.message.startswith(REFUSAL):
                    # This process signed the action (`connections.ActionSigner`): the claim
                    # refusing its envelope is the service's fault (signing keys that differ
                    # between the API and the workers, clocks apart, an action queued past the
                    # envelope's window), not the caller's, and not an answer to keep.
                    log.error("a claim refused this process's signed action: %s", cause.message)
                    raise Unavailable(
                        "the claim could not verify this action; retry shortly"
                    ) from None
                raise ActionNotAllowed(cause.message) from None
            raise
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            raise Unavailable("the claim did not answer in time; retry shortly") from err
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise ActionNotAllowed(_NOT_ACCEPTING) from None
            raise Unavailable("the workflow service is unavailable; retry shortly") from err


_NOT_ACCEPTING = "the claim is no longer accepting actions"


def _appeal_refusal(claim: ClaimStatus) -> str:
    """Why an appeal of a closed claim whose run has ended is refused (the run, while the window
    is open, says it itself)."""
    profile = PROFILES.get(claim.jurisdiction)
    if profile is None or not profile.grants_appeal:
        name = profile.name if profile else claim.jurisdiction
        return (
            f"{name} grants no appeal through this service: the claimant appeals as the "
            "decision letter says"
        )
    appeal = claim.appeal
    if appeal is not None and appeal.window_ends is not None and appeal.received_at is None:
        if appeal.window_ends > datetime.now(UTC):
            # The run was ended in Temporal (terminated) with the window still open.
            return (
                "the claim's workflow was ended by an operator while its appeal window was "
                "open; ops record this appeal by hand"
            )
        return f"the appeal window ended on {appeal.window_ends.isoformat()}"
    if appeal is not None and appeal.received_at is not None:
        return "this claim's denial was appealed already"
    return "only a denied claim may be appealed, once it is decided"


def _check_reason_code(claim: ClaimStatus, decision: DecisionInput | AppealDecision) -> None:
    """A decision's reason code is one of its profile's for the outcome (so the letter can
    state it in words); 422 naming the codes it may be (codes, never a caller's text). On
    appeal, an upheld denial gives a denial's code, an overturn an approval's."""
    profile = PROFILES.get(claim.jurisdiction)
    if profile is None or not profile.reason_codes:
        return
    stated = REASON_OUTCOME.get(decision.outcome, decision.outcome)
    allowed = profile.reason_codes_for(stated)
    if decision.reason_code not in allowed:
        raise InvalidInput(
            "the decision is invalid",
            details=[
                {
                    "field": "reason_code",
                    "message": f"under {profile.name}, a decision {decision.outcome} gives one "
                    f"of: {', '.join(allowed)}",
                }
            ],
        )


def _as_seen_by(caller: Caller, event: TimelineEvent) -> TimelineEvent:
    """Ops see who acted in full; others see the role, and the key or person only when it is
    themselves (`domain.timeline.who_acted_as_seen_by`)."""
    if event.acted_by is None:
        return event
    shown = who_acted_as_seen_by(caller, event.acted_by)
    return event if shown is event.acted_by else event.model_copy(update={"acted_by": shown})


def _superseded(event: TimelineEvent, reset: lineage_store.Reset | None) -> TimelineEvent:
    if reset is None:
        return event
    mark = Superseded(reset_seen_at=reset.recorded_at, resumed_after_seq=reset.from_seq - 1)
    return event.model_copy(update={"superseded": mark})
