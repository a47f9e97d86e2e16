"""The claim page: what `GET /v1/claims/{id}` (and its events, report, documents and deliveries)
shows this person, and each action they may take as a form. A form posts to the same service
method the API's action route calls (`ClaimService.act`), with an idempotency key minted with the
form, so a double click or a resent form is applied once; a refusal is shown at the form in the
API's own words. A document listed downloads through `documents_service` with the person's own
rights, as `GET /v1/claims/{id}/documents/{doc_id}` serves it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from api.routes.documents import download
from console import services
from console.acting import form_text, refusal, take_action
from console.audit import read_claim, record
from console.claim_view import (
    PANEL_PARTY,
    deadline_state,
    file_size,
    next_rung,
    offered_actions,
    remaining,
)
from console.render import page
from console.session import Acting, Person
from domain.access import Capability, may, may_act, may_read_report
from domain.documents import DocumentKind, may_upload, plausible_document_id
from domain.errors import NotFound, Unavailable
from domain.models import ClaimStatus
from domain.names import Action
from domain.parsing import known_action
from domain.profiles import PROFILES
from people.accounts import ActiveSession
from store import deliveries, panel

router = APIRouter(prefix="/console")
ROUTE = "/console/claims/{claim_id}"
DOCUMENT_ROUTE = f"{ROUTE}/documents/{{doc_id}}"
# The access log's `action` of a download, as the API's boundary names it.
_DOWNLOAD = "document_download"


def action_body(action: Action, form: FormData) -> dict[str, Any]:
    """The action's JSON body from its form (the API validates it, as for any caller)."""
    match action:
        case Action.ASSIGN:
            return {"examiner_id": form_text(form, "examiner_id")}
        case (
            Action.DECLINE_APPOINTMENT
            | Action.WITHDRAW
            | Action.EXTEND_DECISION
            | Action.PROCEED_WITHOUT_RECORDS
        ):
            return {"reason": form_text(form, "reason")}
        case Action.INTERPRETER_BOOKED:
            return {"reference": form_text(form, "reference")}
        case Action.RECORD_STATE_PANEL:
            panel_ids = [form_text(form, f"examiner_{n}") for n in (1, 2, 3)]
            return {"reference": form_text(form, "reference"), "examiner_ids": panel_ids}
        case Action.RECORD_STATE_ASSIGNMENT:
            return {
                "reference": form_text(form, "reference"),
                "examiner_id": form_text(form, "examiner_id"),
            }
        case Action.STRIKE | Action.PANEL_CHOICE:
            return {
                "examiner_id": form_text(form, "examiner_id"),
                "party": form_text(form, "party"),
            }
        case Action.RESCHEDULE:
            return {
                "reason": form_text(form, "reason"),
                "requested_by": form_text(form, "requested_by"),
            }
        case Action.EXAM:
            level = form_text(form, "risk_level") or "none"
            screen: dict[str, Any] = {"level": level, "notes": form_text(form, "risk_notes") or ""}
            if level != "none":
                screen["toward"] = form_text(form, "risk_toward")
            # Neither "yes" nor "no" is no answer (the API refuses it, 422), never a no-show.
            attended = {"yes": True, "no": False}.get(form_text(form, "attended") or "")
            return {"attended": attended, "risk_screen": screen}
        case Action.SAFETY_CONCERN:
            return {
                "level": form_text(form, "level"),
                "toward": form_text(form, "toward"),
                "notes": form_text(form, "notes") or "",
            }
        case Action.APPEAL:
            return {
                "received_at": _local_time(form, "received_at"),
                "reason": form_text(form, "reason"),
            }
        case Action.REVIEW:
            return {"result": form_text(form, "result")}
        case Action.DECISION | Action.APPEAL_DECISION:
            return {
                "outcome": form_text(form, "outcome"),
                "reason_code": form_text(form, "reason_code"),
                "notes": form_text(form, "notes") or "",
            }
        case _:
            return {}


def _local_time(form: FormData, field: str) -> str | None:
    """A `datetime-local` field, in the claim's zone (sent beside it), as the API's ISO time."""
    value, zone = form_text(form, field), form_text(form, "zone")
    if not value or not zone:
        return value
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone)).isoformat()
    except (ValueError, KeyError):  # the API says what is wrong with it (422)
        return value


async def _claim_page(
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
    timeline = await claims.timeline(claim, caller)
    report = None
    questions: list[str] = []
    if may_read_report(caller):
        try:
            report = await claims.report(claim, caller)
            # Each answer beside its question, as `GET /v1/claims/{id}/questions` gives them
            # (asked of the workflow: without Temporal the answers stand numbered alone).
            questions = await claims.questions(claim, caller)
        except (NotFound, Unavailable):
            pass
    # The kinds the person reads, as the API lists them (file names opened for those only).
    stored = await services.document_service(request).documents(claim.claim_id, caller)
    documents = [(d.info(caller), file_size(d.size)) for d in stored]
    pool = request.app.state.pool
    # The claim's deliveries (emails, pages, every insurer's webhooks) are the deliveries
    # page's, for ops; an insurer follows its own on Webhooks, as the API gives them.
    reads_deliveries = may(caller, Capability.READ_DELIVERIES)
    sent = await deliveries.for_claim(pool, claim.claim_id) if reads_deliveries else []
    # The assign form's examiners, each with the rule that keeps them off this claim (the
    # booking's own rules; `no_slot` there means no rule does): read only for those who assign.
    # (Ops record the state's panel or assignment from the same list.)
    assigning = may_act(caller, Action.ASSIGN) and claim.status == "open"
    examiners = await panel.list_examiners(pool) if assigning else []
    choices = await claims.examiner_choices(claim, caller) if assigning else []
    excluded = {c.examiner_id: c.rule.value for c in choices if c.rule.value != "no_slot"}
    profile = PROFILES.get(claim.jurisdiction)
    return page(
        request, "claim.html", person, status_code=status_code,
        title=f"Claim {claim.claim_number}", claim=claim, timeline=timeline, report=report,
        documents=documents, questions=questions,
        report_form=may(caller, Capability.WORK_EXAMINATIONS),  # the examiner's report page
        uploads_records=may_upload(caller, DocumentKind.RECORDS),
        reads_deliveries=reads_deliveries, deliveries=sent,
        examiners=examiners, excluded=excluded, checked=bool(choices),
        zone=profile.timezone if profile else None,
        reason_codes=profile.reason_codes if profile else {},
        deadlines=[(d, deadline_state(d), next_rung(d)) for d in claim.deadlines],
        offered=offered_actions(caller, claim), refused=refused or {}, done=done,
        panel_left=remaining(claim.selection), party=PANEL_PARTY.get(caller.role),
        form_key=str(uuid.uuid4()),
    )  # fmt: skip


@router.get("/claims/{claim_id}")
async def claim_page(
    request: Request, claim_id: str, person: Person, done: str | None = None
) -> HTMLResponse:
    claim = await read_claim(request, person, claim_id, ROUTE)
    await record(request, person, ROUTE, claim_id=claim.claim_id)
    # An action's name, or `upload` (the records form, through `console.routes.report`).
    shown = done if done in {a.value for a in Action} | {"upload"} else None
    return await _claim_page(request, person, claim, done=shown)


@router.get("/claims/{claim_id}/documents/{doc_id}")
async def download_document(
    request: Request, claim_id: str, doc_id: str, person: Person
) -> StreamingResponse:
    """As the API's download: no claim the person reads, or no document of a kind they read, is
    404; else the bytes, streamed (`attachment`, `no-store`), after the access-log row with their
    account id and the document's."""
    asked = doc_id if plausible_document_id(doc_id) else None  # an id of ours, or nothing logged
    claim = await read_claim(request, person, claim_id, DOCUMENT_ROUTE, action=_DOWNLOAD)
    documents = services.document_service(request)
    try:
        document = await documents.document(claim.claim_id, person.caller, doc_id)
    except NotFound:
        await record(
            request, person, DOCUMENT_ROUTE, claim_id=claim.claim_id, action=_DOWNLOAD,
            status=404, document_id=asked,
        )  # fmt: skip
        raise
    await record(
        request, person, DOCUMENT_ROUTE, claim_id=claim.claim_id, action=_DOWNLOAD,
        document_id=document.id,
    )  # fmt: skip
    return download(documents, document)


@router.post("/claims/{claim_id}/actions/{action_name}")
async def act(request: Request, claim_id: str, action_name: str, person: Acting) -> Response:
    action = known_action(action_name)
    route = f"{ROUTE}/actions/{action.value}"
    refused = await take_action(request, person, claim_id, action, route, action_body)
    if refused is not None:
        fresh = await services.claim_service(request).get(claim_id, person.caller)
        return await _claim_page(
            request, person, fresh, status_code=refused.status_code,
            refused={action.value: refusal(refused)},
        )  # fmt: skip
    return RedirectResponse(f"/console/claims/{claim_id}?done={action.value}", status_code=303)
