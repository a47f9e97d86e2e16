"""Starting claims and acting on them: the one code path the HTTP API and the CLI share."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError
from temporalio.client import (
    Client,
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

from domain import search_attributes as sa
from domain.actions import ACTION_MODELS
from domain.errors import (
    ActionNotAllowed,
    DuplicateClaimNumber,
    InvalidInput,
    NotFound,
    Unavailable,
)
from domain.ids import claim_id_for, claimant_key, workflow_id_for
from domain.models import (
    INTAKE,
    ClaimEvent,
    ClaimIntake,
    ClaimPage,
    ClaimQuery,
    ClaimStatus,
    Model,
    Referral,
    Stage,
)
from domain.names import SAFETY_CASE_ACTIONS, Action, Query
from domain.refusal import ACTION_NOT_ALLOWED
from settings import Settings
from store import claims as claims_store
from workflows import ClaimWorkflow

T = TypeVar("T")


def parse_referral(body: Any) -> Referral:
    try:
        return Referral.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the referral is invalid") from None


def parse_action(action: str, body: Any) -> tuple[Action, Model]:
    try:
        known = Action(action)
    except ValueError:
        # The name is not echoed: it is whatever the caller put in the URL.
        raise NotFound("unknown action", details={"actions": sorted(ACTION_MODELS)}) from None
    try:
        return known, ACTION_MODELS[known].model_validate(body if body is not None else {})
    except ValidationError as err:
        raise InvalidInput.from_validation(err, f"the {known} payload is invalid") from None


def claim_intake(referral: Referral, id_secret: str) -> ClaimIntake:
    """The workflow's input: the referral plus the claimant's conflict-check key, computed once
    here so that no later step needs the claimant's name and date of birth to book an exam."""
    claimant = referral.claimant
    key = claimant_key(id_secret, claimant.full_name, claimant.date_of_birth.isoformat())
    return ClaimIntake.model_validate({**referral.model_dump(), "claimant_key": key})


def encode_cursor(status: ClaimStatus) -> str:
    raw = f"{status.updated_at.isoformat()}|{status.claim_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        updated_at, claim_id = raw.split("|", 1)
        return datetime.fromisoformat(updated_at), claim_id
    except ValueError:
        raise InvalidInput(
            "the cursor is not valid", details=[{"field": "cursor", "message": "unknown cursor"}]
        ) from None


def referral_fingerprint(referral: Referral) -> str:
    return hashlib.sha256(referral.model_dump_json().encode()).hexdigest()


class ClaimService:
    def __init__(self, pool: asyncpg.Pool, client: Client, settings: Settings) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings

    async def start(self, referral: Referral) -> tuple[ClaimStatus, bool]:
        """Start the claim's workflow once per insurer + claim number.

        Returns the status and whether this call created the claim. Repeating the same referral is
        harmless (and restarts a workflow whose start was interrupted); reusing a claim number
        with a different referral is a conflict.
        """
        claim_id = claim_id_for(
            self._settings.id_secret, referral.insurer_id, referral.claim_number
        )
        workflow_id = workflow_id_for(claim_id)
        initial = ClaimStatus.initial(
            referral, claim_id=claim_id, workflow_id=workflow_id, at=datetime.now(UTC)
        )
        fingerprint = referral_fingerprint(referral)
        try:
            created, existing = await claims_store.insert_new_claim(
                self._pool, initial, fingerprint
            )
        except (OSError, asyncpg.PostgresError) as err:
            raise Unavailable("the claim store is unavailable; retry shortly") from err
        if not created and existing is not None and existing != fingerprint:
            raise DuplicateClaimNumber(
                "this claim number is already in use by a different referral from this insurer",
                details={"claim_id": claim_id},
            )
        if not created:
            existing_status = await self.get(claim_id)
            if existing_status.status == "closed":
                # Closed claims stay closed, even after Temporal's retention forgot the workflow.
                return existing_status, False
        try:
            await self._client.start_workflow(
                ClaimWorkflow.run,
                claim_intake(referral, self._settings.id_secret),
                id=workflow_id,
                task_queue=self._settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.CLAIM_STAGE, Stage.REFERRAL.value),
                        SearchAttributePair(sa.JURISDICTION, referral.jurisdiction),
                        SearchAttributePair(sa.INSURER_ID, referral.insurer_id),
                    ]
                ),
                static_summary=f"IME claim · {referral.jurisdiction} · {referral.insurer_id}",
            )
        except WorkflowAlreadyStartedError:
            pass  # closed earlier: the same claim again
        except RPCError as err:
            raise Unavailable("the workflow service is unavailable; retry shortly") from err
        status = await self.get(claim_id)
        return status, created

    async def get(self, claim_id: str) -> ClaimStatus:
        status = await claims_store.get_status(self._pool, claim_id)
        if status is None:
            raise NotFound("no such claim")
        return status

    async def list_claims(self, query: ClaimQuery, *, insurer_id: str | None = None) -> ClaimPage:
        """A page of claims, oldest update first; pass `next_cursor` back for the next page."""
        items = await claims_store.list_statuses(
            self._pool,
            insurer_id=insurer_id,
            stage=query.stage.value if query.stage else None,
            outcome=query.outcome.value if query.outcome else None,
            jurisdiction=query.jurisdiction,
            overdue=query.overdue,
            updated_after=query.updated_after,
            after=decode_cursor(query.cursor) if query.cursor else None,
            limit=query.limit,
        )
        last = items[-1] if len(items) == query.limit else None
        return ClaimPage(items=items, next_cursor=encode_cursor(last) if last else None)

    async def events(self, claim_id: str) -> list[ClaimEvent]:
        await self.get(claim_id)
        return await claims_store.list_events(self._pool, claim_id)

    async def act(
        self, claim_id: str, action: str, body: Any, *, idempotency_key: str | None = None
    ) -> ClaimStatus:
        """Perform an action. Retrying with the same `idempotency_key` never applies it twice:
        the key becomes the Temporal update id, which the workflow de-duplicates."""
        known, payload = parse_action(action, body)
        current = await self.get(claim_id)
        update_id = f"{known}:{idempotency_key}" if idempotency_key else None
        if known in SAFETY_CASE_ACTIONS:
            # The safety case outlives its claim, so these work on a closed claim too.
            case_id: str | None = await self._update_call(
                self._client.get_workflow_handle(current.workflow_id).query(
                    Query.OPEN_SAFETY_CASE, result_type=str
                )
            )
            if not case_id:
                raise ActionNotAllowed("the claim has no open safety case")
            await self._update(case_id, known, payload, update_id, result_type=None)
            return await self.get(claim_id)
        if current.status == "closed":
            raise ActionNotAllowed("the claim is closed")
        return await self._update(current.workflow_id, known, payload, update_id, ClaimStatus)

    async def _update(
        self,
        workflow_id: str,
        action: Action,
        payload: Model,
        update_id: str | None,
        result_type: type | None,
    ) -> Any:
        handle = self._client.get_workflow_handle(workflow_id)
        timeout = timedelta(seconds=self._settings.action_timeout_seconds)
        return await self._update_call(
            handle.execute_update(
                action, payload, id=update_id, result_type=result_type, rpc_timeout=timeout
            )
        )

    @staticmethod
    async def _update_call(call: Awaitable[T]) -> T:
        """Temporal's answers as the service's errors: 409 for a refused action, 503 when the
        workflow service cannot answer."""
        try:
            return await call
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ACTION_NOT_ALLOWED:
                raise ActionNotAllowed(cause.message) from None
            raise
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            raise Unavailable("the claim did not answer in time; retry shortly") from err
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise ActionNotAllowed("the claim is no longer accepting actions") from None
            raise Unavailable("the workflow service is unavailable; retry shortly") from err
