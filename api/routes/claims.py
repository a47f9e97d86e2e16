"""Claims: start, read, audit timeline, and one route per action.

Each action route checks, in this order: the claim is one the caller may read (404), the caller's
role may take the action (403), the payload (422), then the claim's state (409).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from api.deps import (
    BEARER_SECURITY,
    CallerDep,
    ClaimsDep,
    JsonBody,
    ReadableClaim,
    caller_of,
    capability,
    read_json,
)
from api.lean_route import LeanRoute
from api.openapi import errors, json_body, who
from claim_service import ClaimService
from domain.access import (
    ACTION_ROLES,
    CAPABILITY_ROLES,
    READ_SCOPE,
    REPORT_READERS,
    Capability,
    ReadScope,
)
from domain.actions import ACTION_MODELS
from domain.errors import Forbidden
from domain.models import (
    Caller,
    ClaimantLookup,
    ClaimPage,
    ClaimQuery,
    ClaimQuestions,
    ClaimReport,
    ClaimStatus,
    Referral,
    TimelineEvent,
)
from domain.names import Action, Role
from domain.parsing import parse_lookup, parse_referral
from domain.retention import LegalHoldInput

router = APIRouter(prefix="/v1/claims", tags=["claims"])

_READERS = sorted(r.value for r, scope in READ_SCOPE.items() if scope is not ReadScope.NONE)
_SCOPES = (
    "Each role reads its own claims: ops all, an insurer its insurer's, an examiner those they "
    "are booked on, reviewers those whose report was submitted, clinicians those with a safety "
    "case."
)
_CLAIM_LINKS = {
    "GetClaim": {
        "operationId": "get_claim",
        "parameters": {"claim_id": "$response.body#/claim_id"},
    },
    "ClaimEvents": {
        "operationId": "claim_events",
        "parameters": {"claim_id": "$response.body#/claim_id"},
    },
    "ClaimReport": {
        "operationId": "claim_report",
        "parameters": {"claim_id": "$response.body#/claim_id"},
    },
    "ListDocuments": {
        "operationId": "list_documents",
        "parameters": {"claim_id": "$response.body#/claim_id"},
    },
    "UploadDocument": {
        "operationId": "upload_document",
        "parameters": {"claim_id": "$response.body#/claim_id"},
    },
    **{
        f"Act{action.name.title().replace('_', '')}": {
            "operationId": f"act_{action.name.lower()}",
            "parameters": {"claim_id": "$response.body#/claim_id"},
        }
        for action in Action
    },
}


@router.post(
    "",
    response_model=ClaimStatus,
    status_code=201,
    operation_id="start_claim",
    description=who(
        [r.value for r in CAPABILITY_ROLES[Capability.START_CLAIM]],
        "An insurer key starts claims for its own insurer id only. 201 for a new claim, 200 for "
        "the same referral again (same claim), 409 when the claim number is taken by another "
        "referral.",
    ),
    responses={
        200: {
            "model": ClaimStatus,
            "description": "the same referral again",
            "links": _CLAIM_LINKS,
        },
        201: {"description": "a new claim", "links": _CLAIM_LINKS},
        **errors(401, 403, 409, 413, 415, 422, 503),
    },
    openapi_extra=json_body(Referral),
)
async def start_claim(
    response: Response,
    caller: Annotated[Caller, capability(Capability.START_CLAIM)],
    claims: ClaimsDep,
    body: JsonBody,
) -> ClaimStatus:
    _only_own_insurer(caller, body)
    status, created = await claims.start(parse_referral(body), caller)
    if created:
        response.headers["Location"] = f"/v1/claims/{status.claim_id}"
    else:
        response.status_code = 200
    return status


def _only_own_insurer(caller: Caller, body: Any) -> None:
    # Before the referral is validated: an insurer naming another insurer is forbidden, not
    # merely mistaken.
    if caller.role is Role.INSURER and isinstance(body, dict):
        named = body.get("insurer_id")
        if isinstance(named, str) and named != caller.insurer_id:
            raise Forbidden("an insurer key starts claims for its own insurer only")


@router.get(
    "",
    response_model=ClaimPage,
    operation_id="list_claims",
    description=who(_READERS, _SCOPES),
    responses=errors(401, 403, 422, 503),
)
async def list_claims(
    query: Annotated[ClaimQuery, Query()],
    caller: Annotated[Caller, capability(Capability.LIST_CLAIMS)],
    claims: ClaimsDep,
) -> ClaimPage:
    return await claims.list_claims(query, caller)


@router.post(
    "/search",
    response_model=ClaimPage,
    operation_id="find_claims_by_claimant",
    description=who(
        _READERS,
        _SCOPES + " The claims of one claimant, found by a keyed hash of their full name and "
        "date of birth (sent in the body, never in a URL; no name is stored or indexed in "
        "clear). Claims referred before this search existed are found by claim number only. "
        "The query's filters and `cursor` apply as for the list.",
    ),
    responses=errors(401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(ClaimantLookup),
)
async def find_claims(
    query: Annotated[ClaimQuery, Query()],
    caller: Annotated[Caller, capability(Capability.LIST_CLAIMS)],
    claims: ClaimsDep,
    body: JsonBody,
) -> ClaimPage:
    return await claims.list_claims(query, caller, claimant=parse_lookup(body))


async def get_claim(claim_id: str, request: Request) -> Response:
    # The poll path: the stored JSON as is (no decode, validate and re-encode of what the
    # projection already holds as JSON), without dependencies (FastAPI solves each on every
    # request): the caller the boundary authenticated, the service of the app.
    claims: ClaimService = request.app.state.claims
    status = await claims.get_json(claim_id, caller_of(request))
    return Response(status, media_type="application/json")


router.add_api_route(
    "/{claim_id}",
    get_claim,
    methods=["GET"],
    route_class_override=LeanRoute,
    # The document declares the status model the stored JSON is.
    response_model=ClaimStatus,
    operation_id="get_claim",
    description=who(_READERS, _SCOPES),
    responses=errors(401, 404, 503),
    openapi_extra=BEARER_SECURITY,
)


@router.get(
    "/{claim_id}/events",
    response_model=list[TimelineEvent],
    operation_id="claim_events",
    description=who(
        _READERS,
        _SCOPES + " Only ops see which key acted. Ops and clinicians also see the steps of the "
        "claim's safety cases (`case_id` set, no `seq`: each case keeps its own log) and "
        "referrals to treatment, in time order; the others see of the safety branch only the "
        "hold placed and lifted.",
    ),
    responses=errors(401, 404, 503),
)
async def claim_events(
    claim: ReadableClaim, claims: ClaimsDep, caller: CallerDep
) -> list[TimelineEvent]:
    return await claims.timeline(claim, caller)


@router.get(
    "/{claim_id}/report",
    response_model=ClaimReport,
    # Who filed it is in the timeline; the body is the report as written.
    response_model_exclude={"report": {"acted_by"}},
    operation_id="claim_report",
    description=who(
        [r.value for r in REPORT_READERS],
        "The claim's insurer, the assigned examiner, reviewers of claims in review, ops: the "
        "accepted report, else the latest version, with the history of versions. Stored "
        "encrypted at rest. 404 `report_not_available` until a report is filed; 404 for every "
        "other caller; 410 `gone` once the claim's retention period destroyed its contents.",
    ),
    responses=errors(401, 404, 410, 503),
)
async def claim_report(claim: ReadableClaim, claims: ClaimsDep, caller: CallerDep) -> ClaimReport:
    return await claims.report(claim, caller)


@router.get(
    "/{claim_id}/questions",
    response_model=ClaimQuestions,
    operation_id="claim_questions",
    description=who(
        [r.value for r in REPORT_READERS],
        "The referral's questions, in the order the report's `answers` answer them (the "
        "examiner's report form puts each beside its answer): for those who read the claim's "
        "report; 404 for every other caller. Read from the claim's workflow (the referral is "
        "kept only in its encrypted history): 503 while the workflow service cannot answer.",
    ),
    responses=errors(401, 404, 503),
)
async def claim_questions(
    claim: ReadableClaim, claims: ClaimsDep, caller: CallerDep
) -> ClaimQuestions:
    return ClaimQuestions(claim_id=claim.claim_id, questions=await claims.questions(claim, caller))


_HOLD = (
    "The body names why, as a code (`reason`: litigation, subpoena, regulator_inquiry, audit, "
    "appeal, other; no free text). While a claim is held the retention sweep leaves its records; "
    "the status shows `legal_hold`, and the timeline a `legal_hold_placed` / `legal_hold_lifted` "
    "event each time it changes. Setting what is already set changes nothing (200, no event)."
)


@router.put(
    "/{claim_id}/legal-hold",
    response_model=ClaimStatus,
    operation_id="place_legal_hold",
    description=who([r.value for r in CAPABILITY_ROLES[Capability.HOLD_RECORDS]], _HOLD),
    responses=errors(401, 403, 404, 413, 415, 422, 503),
    openapi_extra=json_body(LegalHoldInput),
)
async def place_legal_hold(
    claim: ReadableClaim, claims: ClaimsDep, caller: CallerDep, body: JsonBody
) -> ClaimStatus:
    return await claims.legal_hold(claim, caller, body, held=True)


@router.delete(
    "/{claim_id}/legal-hold",
    response_model=ClaimStatus,
    operation_id="lift_legal_hold",
    description=who(
        [r.value for r in CAPABILITY_ROLES[Capability.HOLD_RECORDS]],
        "Lifts the hold: the claim is the retention sweep's again. " + _HOLD,
    ),
    responses=errors(401, 403, 404, 413, 415, 422, 503),
    openapi_extra=json_body(LegalHoldInput),
)
async def lift_legal_hold(
    claim: ReadableClaim, claims: ClaimsDep, caller: CallerDep, body: JsonBody
) -> ClaimStatus:
    return await claims.legal_hold(claim, caller, body, held=False)


IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="a retry with the same key and request gets the first answer, applied once; "
        "the same key with a different request is refused (422 idempotency_key_reused)",
    ),
]


def _action_route(action: Action) -> None:
    def permitted(claim: ReadableClaim, claims: ClaimsDep, caller: CallerDep) -> ClaimStatus:
        claims.authorize(caller, action)
        return claim

    # (A default, not `Annotated`: postponed annotations cannot see this function's locals.)
    async def act(
        claims: ClaimsDep,
        caller: CallerDep,
        claim: ClaimStatus = Depends(permitted),
        body: Any = Depends(read_json),
        idempotency_key: IdempotencyKey = None,
    ) -> ClaimStatus:
        return await claims.act_on(claim, action, body, caller, idempotency_key=idempotency_key)

    roles = sorted(r.value for r in ACTION_ROLES[action])
    router.add_api_route(
        f"/{{claim_id}}/actions/{action.value}",
        act,
        methods=["POST"],
        response_model=ClaimStatus,
        operation_id=f"act_{action.name.lower()}",
        summary=f"Action: {action.value}",
        description=who(roles, "On a claim the caller may read; others get 404."),
        responses=errors(401, 403, 404, 409, 413, 415, 422, 503),
        openapi_extra=json_body(ACTION_MODELS[action]),
    )


for _action in Action:
    _action_route(_action)
