"""The reviewer's portal (reviewers and senior reviewers): the reports waiting for a review, by
the review SLA (`/console/reviews`), and one claim's report beside the automatic QA checklist,
with its PDFs, where it is accepted or sent back for an addendum (`/console/reviews/{claim_id}`).

Read through the calls the API answers the same questions with: the claims in REVIEW the person
may read (`ClaimService.list_claims`, as `GET /v1/claims?stage=REVIEW`), who holds each one's
item in their work queue (`WorkQueue.page`, as `GET /v1/inbox/queue`), the report
(`ClaimService.report`), the referral's questions (`ClaimService.questions`) and the report's
PDFs (`DocumentService.documents`). The review goes through `console.acting.take_action` with
`Action.REVIEW`, as `POST /v1/claims/{id}/actions/review` does: a refusal (the addendum limit
reached, the claim no longer in review) is shown at the form in the API's words."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from console import services
from console.acting import form_text, refusal, take_action
from console.audit import read_claim, record
from console.claim_view import file_size
from console.render import page
from console.review_view import (
    answered,
    checklist,
    is_overdue,
    queue_order,
    reasons_of,
    review_deadline,
    time_left,
)
from console.session import Acting, Person
from domain.access import Capability
from domain.documents import DocumentKind
from domain.errors import NotFound, Unavailable
from domain.models import ClaimQuery, ClaimReport, ClaimStatus, Deadline, InboxHolder, QueueQuery
from domain.names import Action, Stage
from domain.profiles import PROFILES
from domain.work_queue import holder_of
from people.accounts import ActiveSession

router = APIRouter(prefix="/console")
LIST = "/console/reviews"
ROUTE = "/console/reviews/{claim_id}"
ACT_ROUTE = f"{ROUTE}/actions/review"
# The claims waiting for a review fit in one page of the list (the API's largest).
PAGE = 200
# The work queue read for who holds what (the API's largest page).
QUEUE_PAGE = 500
PDF_KINDS = frozenset({DocumentKind.REPORT_PDF, DocumentKind.ADDENDUM_PDF})
# What the queue says was done after a review (never a value the person typed).
_DONE = {
    "accepted": "the report is accepted; the claim goes on to the decision",
    "addendum_requested": "an addendum is asked of the examiner, with your reasons",
}


@dataclass(frozen=True)
class Waiting:
    claim: ClaimStatus
    version: int | None
    deadline: Deadline | None
    left: str
    overdue: bool
    held_by: str | None  # who took the claim's item in the person's work queue


def _held(taken: InboxHolder | None, mine: str) -> str | None:
    if taken is None:
        return None
    return "you" if taken.id == mine else (taken.name or taken.id)


@router.get("/reviews")
async def reviews(request: Request, person: Person, done: str | None = None) -> HTMLResponse:
    caller = person.caller
    claims = services.claim_service(request)
    claims.require(caller, Capability.REVIEW_REPORTS)
    waiting = await claims.list_claims(
        ClaimQuery(stage=Stage.REVIEW, sort="next_deadline", limit=PAGE), caller
    )
    queue = await services.work_queue(request).page(caller, QueueQuery(limit=QUEUE_PAGE))
    mine = holder_of(caller)[0]
    holders: dict[str, str] = {}
    for item in queue.items:
        held = _held(item.taken_by, mine)
        if held is not None:
            holders.setdefault(item.claim_id, held)
    now = datetime.now(UTC)
    rows = []
    for claim in queue_order(waiting.items):
        try:
            version: int | None = (await claims.report(claim, caller)).version
        except NotFound:
            version = None  # not stored yet: the projection ran ahead of the report's row
        deadline = review_deadline(claim)
        rows.append(
            Waiting(
                claim, version, deadline, time_left(deadline, now), is_overdue(deadline, now),
                holders.get(claim.claim_id),
            )
        )  # fmt: skip
    await record(request, person, LIST)
    return page(
        request, "reviews.html", person, title="Reviews", rows=rows,
        done=_DONE.get(done or ""),
    )  # fmt: skip


async def _review_page(
    request: Request,
    person: ActiveSession,
    claim: ClaimStatus,
    *,
    status_code: int = 200,
    refused: dict[str, str] | None = None,
    typed: str = "",
) -> HTMLResponse:
    """`typed`: the reasons the person wrote, shown back in their form after a refusal."""
    claims = services.claim_service(request)
    caller = person.caller
    report: ClaimReport = await claims.report(claim, caller)
    try:
        questions: list[str] | None = await claims.questions(claim, caller)
    except (NotFound, Unavailable):
        questions = None  # the page still shows the report; it says the questions are missing
    stored = await services.document_service(request).documents(claim.claim_id, caller)
    pdfs = [
        (d, file_size(d.size))
        for d in stored
        if d.kind in PDF_KINDS and d.report_version == report.version
    ]
    profile = PROFILES.get(claim.jurisdiction)
    deadline = review_deadline(claim)
    now = datetime.now(UTC)
    return page(
        request, "review.html", person, status_code=status_code,
        title=f"Review of claim {claim.claim_number}", claim=claim, report=report,
        answers=answered(report.report, questions), questions_read=questions is not None,
        checks=checklist(report.report, questions), pdfs=pdfs, deadline=deadline,
        left=time_left(deadline, now), overdue=is_overdue(deadline, now),
        reviewable=claim.status == "open" and claim.stage is Stage.REVIEW,
        zone=profile.timezone if profile else None, refused=refused or {}, typed=typed,
        form_key=str(uuid.uuid4()),
    )  # fmt: skip


@router.get("/reviews/{claim_id}")
async def review_page(request: Request, claim_id: str, person: Person) -> HTMLResponse:
    claims = services.claim_service(request)
    # The role first (a page for reviewers), then the claim (404 outside their scope).
    claims.require(person.caller, Capability.REVIEW_REPORTS)
    claim = await read_claim(request, person, claim_id, ROUTE)
    await record(request, person, ROUTE, claim_id=claim.claim_id)
    return await _review_page(request, person, claim)


def review_body(action: Action, form: FormData) -> dict[str, Any]:
    """`ReviewResult` from the form: the result its button sends, the reasons one a line (the
    API validates both, as for any caller)."""
    return {"result": form_text(form, "result"), "reasons": reasons_of(form_text(form, "reasons"))}


@router.post("/reviews/{claim_id}/actions/review")
async def review(request: Request, claim_id: str, person: Acting) -> Response:
    form = await request.form()
    result = form_text(form, "result") or ""
    refused = await take_action(request, person, claim_id, Action.REVIEW, ACT_ROUTE, review_body)
    if refused is not None:
        fresh = await services.claim_service(request).get(claim_id, person.caller)
        where = result if result in _DONE else "accepted"
        return await _review_page(
            request, person, fresh, status_code=refused.status_code,
            refused={where: refusal(refused)}, typed=form_text(form, "reasons") or "",
        )  # fmt: skip
    return RedirectResponse(f"{LIST}?done={result}", status_code=303)
