"""The examiner's report page (`/console/claims/{id}/report`) and the console's document upload
(`POST /console/claims/{id}/documents`).

The page: each referral question (as `GET /v1/claims/{id}/questions` gives them) beside its
answer field, and the rest of the report; filed through `console.acting.take_action` with
`Action.REPORT`, the API's own validation and refusals shown at the form. When the last version
was sent back, the reasons (the reviewer's, word for word, or the automatic checks') stand above
the form, prefilled from that version. Below: the signed PDF for the version just filed, and the
claim's records to download (through the claim page's download route).

The upload is the same path as `POST /v1/claims/{id}/documents` (`documents_service.upload_form`):
streamed, typed by content (415), the size limit (413), a PDF that must parse (422); the boundary
lets this route's body through unbuffered (`api.boundary`). Any page may post to it (the records
upload of the claim page too): fields `csrf_token`, `kind`, optionally `report_version` and
`return_to` (`report` or `claim`: where the person goes next), then `file`, last.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import ClientDisconnect

from console import services
from console.acting import refusal, take_action
from console.audit import read_claim, record
from console.claim_view import file_size
from console.render import page
from console.report_form import FormValues, from_form, from_report, report_body
from console.session import CSRF_FIELD, CSRF_HEADER, Acting, Person, check_csrf
from domain.access import Capability, may, may_act
from domain.documents import DocumentKind, may_upload
from domain.errors import ClaimError, Forbidden, InvalidInput, NotFound
from domain.lifecycle import ACTION_STAGES
from domain.models import Causation, ClaimReport, ClaimStatus
from domain.names import Action
from domain.profiles import PROFILES
from people.accounts import ActiveSession

router = APIRouter(prefix="/console")
ROUTE = "/console/claims/{claim_id}/report"
UPLOAD_ROUTE = "/console/claims/{claim_id}/documents"
# The access log's `action` of an upload, as the API's boundary names it.
_UPLOAD = "document_upload"
# Where an upload leads: a name, never a URL taken from the form (no open redirect).
_RETURN_TO = {"report": "/report", "claim": ""}
_SENT_BACK = {"addendum_requested", "qa_failed"}
_REPORT_KIND = {"report": DocumentKind.REPORT_PDF, "addendum": DocumentKind.ADDENDUM_PDF}
_DONE = {"report": "The report was filed.", "upload": "The file was uploaded."}


def _may_file(person: ActiveSession, claim: ClaimStatus) -> str:
    """'' when the report can be filed now, else why not (the action's stages, as the API
    checks them: the claim answers 409 anyway)."""
    if not may_act(person.caller, Action.REPORT):
        return "your role does not file reports"
    if claim.status == "closed":
        return "the claim is closed"
    if claim.stage not in ACTION_STAGES[Action.REPORT]:
        return f"the claim is in the {claim.stage.value} stage"
    return ""


async def _report_page(
    request: Request,
    person: ActiveSession,
    claim: ClaimStatus,
    *,
    status_code: int = 200,
    refused: str | None = None,
    upload_refused: str | None = None,
    values: FormValues | None = None,
    done: str | None = None,
) -> HTMLResponse:
    claims = services.claim_service(request)
    caller = person.caller
    questions = await claims.questions(claim, caller)
    report: ClaimReport | None
    try:
        report = await claims.report(claim, caller)
    except NotFound:
        report = None
    latest = report.versions[-1] if report else None
    sent_back = latest if latest and latest.status in _SENT_BACK else None
    stored = await services.document_service(request).documents(claim.claim_id, caller)
    # Listed as the API lists them to this person (`DocumentInfo`).
    listed = [(d.info(caller), file_size(d.size)) for d in stored]
    records = [(d, size) for d, size in listed if d.kind is DocumentKind.RECORDS]
    signed = [(d, size) for d, size in listed if d.kind in _REPORT_KIND.values()]
    # The signed PDF goes with the version last filed, of its kind (report or addendum).
    upload_kind = _REPORT_KIND[latest.kind] if latest else None
    profile = PROFILES.get(claim.jurisdiction)
    return page(
        request, "report.html", person, status_code=status_code,
        title=f"Report — claim {claim.claim_number}", claim=claim, questions=questions,
        report=report, latest=latest, sent_back=sent_back,
        values=values or (from_report(report.report) if report else FormValues()),
        why_not=_may_file(person, claim), refused=refused, upload_refused=upload_refused,
        upload_kind=upload_kind if upload_kind and may_upload(caller, upload_kind) else None,
        records=records, signed=signed, causations=list(Causation),
        zone=profile.timezone if profile else None, done=_DONE.get(done or ""),
        form_key=str(uuid.uuid4()),
    )  # fmt: skip


async def _examiners_claim(request: Request, person: ActiveSession, route: str) -> ClaimStatus:
    """The claim of the path for an examiner's page: 403 for other roles, 404 outside their
    claims (as the API reads it), each an access-log row."""
    claim_id = request.path_params["claim_id"]
    if not may(person.caller, Capability.WORK_EXAMINATIONS):
        await record(request, person, route, status=403)
        raise Forbidden(f"the {person.caller.role} role has no report form")
    return await read_claim(request, person, claim_id, route)


@router.get("/claims/{claim_id}/report")
async def report_page(
    request: Request, claim_id: str, person: Person, done: str | None = None
) -> HTMLResponse:
    claim = await _examiners_claim(request, person, ROUTE)
    await record(request, person, ROUTE, claim_id=claim.claim_id)
    return await _report_page(request, person, claim, done=done)


@router.post("/claims/{claim_id}/report")
async def file_report(request: Request, claim_id: str, person: Acting) -> Response:
    await _examiners_claim(request, person, ROUTE)
    refused = await take_action(request, person, claim_id, Action.REPORT, ROUTE, report_body)
    if refused is not None:
        fresh = await services.claim_service(request).get(claim_id, person.caller)
        return await _report_page(
            request, person, fresh, status_code=refused.status_code,
            refused=refusal(refused), values=from_form(await request.form()),
        )  # fmt: skip
    return RedirectResponse(f"/console/claims/{claim_id}/report?done=report", status_code=303)


@router.post("/claims/{claim_id}/documents")
async def upload_document(request: Request, claim_id: str, person: Person) -> Response:
    """One file, streamed into `documents_service` as the API's upload. CSRF: this form is
    multipart, and parsing it the way `console.session` checks other forms would read the whole
    file first. So the token is the form's first field, checked as soon as the fields before the
    file have arrived, before a byte of the file is read or stored (or it comes as the
    `X-CSRF-Token` header, checked before the body is touched). Never in the URL: a query string
    is kept in access lines and the browser's history."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        check_csrf(person, header)
    caller = person.caller
    claim = await read_claim(request, person, claim_id, UPLOAD_ROUTE, action=_UPLOAD)
    chosen: dict[str, str] = {}

    def check_fields(fields: dict[str, str]) -> None:
        if header is None:
            check_csrf(person, fields.get(CSRF_FIELD))
        chosen["return_to"] = fields.get("return_to", "")

    documents = services.document_service(request)
    try:
        try:
            stored = await documents.upload_form(
                claim.claim_id, caller, request.headers.get("content-type", ""),
                request.stream(), check_fields=check_fields,
            )  # fmt: skip
        except ClientDisconnect:
            raise InvalidInput("the upload was interrupted; nothing was stored") from None
    except ClaimError as err:
        await record(
            request, person, UPLOAD_ROUTE, claim_id=claim.claim_id, action=_UPLOAD,
            status=err.status_code,
        )  # fmt: skip
        if _shown_at_form(err, person, chosen):
            return await _report_page(
                request, person, claim, status_code=err.status_code,
                upload_refused=refusal(err),
            )  # fmt: skip
        raise
    await record(
        request, person, UPLOAD_ROUTE, claim_id=claim.claim_id, action=_UPLOAD,
        document_id=stored.id,
    )  # fmt: skip
    back = _RETURN_TO.get(chosen.get("return_to", ""), "")
    return RedirectResponse(f"/console/claims/{claim_id}{back}?done=upload", status_code=303)


def _shown_at_form(err: ClaimError, person: ActiveSession, chosen: dict[str, str]) -> bool:
    """A refusal of the file (its type, size, content, version) is shown at the report page's
    upload form; a refused CSRF token (no field was taken then), a kind the person may not
    upload, or a form from another page, as the error page."""
    return (
        chosen.get("return_to") == "report"
        and err.status_code != 403
        and may(person.caller, Capability.WORK_EXAMINATIONS)
    )
