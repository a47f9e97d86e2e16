"""Bulk start: a CSV or JSONL file of referrals, every line validated before anything starts (bad
lines named by number and field, never by what they hold), then started with a live progress bar
and the summary the CLI prints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from claim_service import ClaimService
from cli.referral_files import FileFormat, read_referral_bytes
from console.bulk_jobs import BulkJobs
from console.render import fragment, page
from console.session import Acting, Person
from domain.access import Capability
from domain.errors import InvalidInput, NotFound

router = APIRouter(prefix="/console")


def _jobs(request: Request) -> BulkJobs:
    jobs: BulkJobs | None = getattr(request.app.state, "bulk_jobs", None)
    if jobs is None:
        jobs = request.app.state.bulk_jobs = BulkJobs()
    return jobs


@router.get("/bulk")
async def bulk_form(request: Request, person: Person) -> HTMLResponse:
    ClaimService.require(person.caller, Capability.START_CLAIM)
    return page(request, "bulk.html", person, title="Bulk start", rejected=[], error=None)


@router.post("/bulk")
async def bulk_upload(request: Request, person: Acting) -> Response:
    ClaimService.require(person.caller, Capability.START_CLAIM)
    form = await request.form()
    upload = form.get("file")
    error = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        error = "Choose a .csv or .jsonl file of referrals."
    else:
        name = upload.filename.lower()
        fmt = FileFormat.CSV if name.endswith(".csv") else FileFormat.JSONL
        if not name.endswith((".csv", ".jsonl", ".ndjson")):
            error = "The file must be .csv or .jsonl (one referral per line)."
    if error is None:
        assert isinstance(upload, UploadFile)
        try:
            read = read_referral_bytes(await upload.read(), fmt)
        except InvalidInput as err:
            error = err.message
    if error is not None:
        return page(request, "bulk.html", person, status_code=422, title="Bulk start",
                    rejected=[], error=error)  # fmt: skip
    # An insurer starts its own claims only: the service refuses another insurer's line, and
    # the line is reported as failed with that reason.
    if read.rejected or not read.valid:
        return page(
            request, "bulk.html", person, status_code=422 if read.rejected else 200,
            title="Bulk start", rejected=read.rejected, lines=read.lines,
            error=None if read.rejected else "The file holds no referrals.",
        )  # fmt: skip
    job = _jobs(request).start(request.app.state.claims, read, person.caller)
    return RedirectResponse(f"/console/bulk/{job.id}", status_code=303)


@router.get("/bulk/{job_id}")
async def bulk_job(request: Request, job_id: str, person: Person) -> HTMLResponse:
    job = _jobs(request).find(job_id, person.caller)
    if job is None:
        raise NotFound("no such bulk start")
    return page(request, "bulk_job.html", person, title="Bulk start", job=job)


@router.get("/bulk/{job_id}/progress")
async def bulk_progress(request: Request, job_id: str, person: Person) -> HTMLResponse:
    job = _jobs(request).find(job_id, person.caller)
    if job is None:
        raise NotFound("no such bulk start")
    return fragment(request, "_bulk_progress.html", job=job)
