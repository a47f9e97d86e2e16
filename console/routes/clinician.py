"""The clinician's workplace: the open safety cases, unacknowledged pages first, and the
referral-to-treatment tasks (`/console/safety`); a claim's safety cases with their timeline,
where a case is acknowledged and resolved (`/console/safety/{claim_id}`, the page each page
links to: `domain.delivery.safety_case_page`).

The cases come from `ClaimService.safety_cases` (their own timelines and the clinical details of
their first page), the tasks from the work queue (`work_queue.WorkQueue`, as `GET /v1/inbox`).
Acknowledging and resolving go through `ClaimService.act_on` as the API's action route does
(claim 404, role 403, payload 422, the case's state 409), with an idempotency key minted with
the form; a refusal (a duty-to-protect task still open) is shown at its form."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from console import services
from console.acting import form_text, refusal, take_action
from console.audit import read_claim, record
from console.render import fragment, page
from console.session import Acting, Person
from domain.access import Capability
from domain.delivery import safety_case_page
from domain.errors import NotFound
from domain.models import ClaimStatus, QueueQuery
from domain.names import SAFETY_CASE_ACTIONS, Action, Template
from domain.parsing import known_action
from domain.profiles import PROFILES
from people.accounts import ActiveSession

router = APIRouter(prefix="/console")
LIST = "/console/safety"
ROUTE = safety_case_page("{claim_id}")
REFRESH_SECONDS = 5

# What a resolution records as done (`SafetyResolve.actions_taken`), in words.
ACTIONS_TAKEN = {
    "emergency_services_contacted": "Emergency services contacted",
    "warm_handoff": "Warm hand-off to a crisis or treating provider",
    "referral_to_treatment": "Referral to treatment",
}
# What a page says was done after a form (never a value the person typed).
_DONE = {"task": "the task is marked done"}
_CASE_DONE = {
    Action.SAFETY_ACK.value: "the case is acknowledged",
    Action.SAFETY_RESOLVE.value: "the case is resolved",
}


def action_body(action: Action, form: FormData) -> dict[str, Any]:
    """The action's JSON body from its form (the API validates it, as for any caller)."""
    if action is Action.SAFETY_ACK:
        return {"clinician_id": form_text(form, "clinician_id")}
    return {
        "actions_taken": [v for v in form.getlist("actions_taken") if isinstance(v, str)],
        "notes": form_text(form, "notes") or "",
    }


@router.get("/safety")
async def safety_cases(request: Request, person: Person, done: str | None = None) -> HTMLResponse:
    caller = person.caller
    cases = await services.claim_service(request).safety_cases(caller)
    # Moderate risk: no case and no hold, a task in the clinicians' inbox (PRODUCT §4).
    tasks = await services.work_queue(request).page(
        caller, QueueQuery(kind=Template.REFERRAL_TO_TREATMENT.value, limit=100)
    )
    await record(request, person, LIST)
    return page(
        request, "safety.html", person, title="Safety cases", cases=cases, tasks=tasks,
        refresh=REFRESH_SECONDS, done=_DONE.get(done or ""),
    )  # fmt: skip


@router.get("/safety/live")
async def safety_lists(request: Request, person: Person) -> HTMLResponse:
    """The cases alone: what the page's live refresh swaps in (a new page shows up unasked).
    The tasks are not refreshed: a refresh would wipe a note being typed."""
    cases = await services.claim_service(request).safety_cases(person.caller)
    return fragment(request, "_safety_cases.html", person=person, cases=cases)


@router.post("/safety/tasks/{item_id}/done")
async def task_done(request: Request, item_id: str, person: Acting) -> Response:
    """A referral to treatment followed up: closed by hand with a note (as
    `POST /v1/inbox/{id}/done`)."""
    form = await request.form()
    await services.work_queue(request).done(
        person.caller, item_id, {"note": form_text(form, "note")}
    )
    return RedirectResponse(f"{LIST}?done=task", status_code=303)


async def _case_page(
    request: Request,
    person: ActiveSession,
    claim: ClaimStatus,
    *,
    status_code: int = 200,
    refused: dict[str, str] | None = None,
    done: str | None = None,
) -> HTMLResponse:
    claims = services.claim_service(request)
    caller = person.caller
    cases = await claims.safety_cases(caller, claim=claim)
    timeline = await claims.timeline(claim, caller)
    profile = PROFILES.get(claim.jurisdiction)
    return page(
        request, "safety_case.html", person, status_code=status_code,
        title=f"Safety cases of claim {claim.claim_number}", claim=claim, cases=cases,
        timeline=timeline, zone=profile.timezone if profile else None,
        actions_taken=ACTIONS_TAKEN, refused=refused or {}, done=done,
        form_key=str(uuid.uuid4()),
    )  # fmt: skip


@router.get("/safety/{claim_id}")
async def case_page(
    request: Request, claim_id: str, person: Person, done: str | None = None
) -> HTMLResponse:
    claims = services.claim_service(request)
    # The role first (a page for clinicians), then the claim (404 outside their scope).
    claims.require(person.caller, Capability.WORK_SAFETY_CASES)
    claim = await read_claim(request, person, claim_id, ROUTE)
    await record(request, person, ROUTE, claim_id=claim.claim_id)
    return await _case_page(request, person, claim, done=_CASE_DONE.get(done or ""))


@router.post("/safety/{claim_id}/actions/{action_name}")
async def act(request: Request, claim_id: str, action_name: str, person: Acting) -> Response:
    action = known_action(action_name)
    if action not in SAFETY_CASE_ACTIONS:
        raise NotFound("unknown action")  # the claim page has the other forms
    route = f"{ROUTE}/actions/{action.value}"
    refused = await take_action(request, person, claim_id, action, route, action_body)
    if refused is not None:
        fresh = await services.claim_service(request).get(claim_id, person.caller)
        return await _case_page(
            request, person, fresh, status_code=refused.status_code,
            refused={action.value: refusal(refused)},
        )  # fmt: skip
    return RedirectResponse(f"{safety_case_page(claim_id)}?done={action.value}", status_code=303)
