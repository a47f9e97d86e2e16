"""The examiner's worklist: the appointments waiting for their confirmation (with the deadline),
the exams to come by day in the exam's local time, the reports due with the time left, and the
addenda asked of them with the reviewer's own reasons. Read through the same service calls as
`GET /v1/claims` and `GET /v1/claims/{id}/report`, with the examiner's scope (their claims)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from claim_service import ClaimService
from console.audit import record
from console.render import page
from console.session import Person
from domain.access import Capability
from domain.errors import NotFound
from domain.models import ClaimQuery, ClaimStatus, Deadline, Stage
from domain.names import DeadlineName
from domain.profiles import PROFILES

router = APIRouter(prefix="/console")
ROUTE = "/console/worklist"
# An examiner's open claims fit in one page of the list (their capacity is far below it).
PAGE = 200


@dataclass(frozen=True)
class Due:
    claim: ClaimStatus
    deadline: Deadline | None
    left: str  # the time left, in words ("2 days", "overdue")


@dataclass(frozen=True)
class Addendum:
    claim: ClaimStatus
    reasons: list[str]


def _zone(claim: ClaimStatus) -> ZoneInfo:
    profile = PROFILES.get(claim.jurisdiction)
    return ZoneInfo(profile.timezone if profile else "UTC")


def _pending(claim: ClaimStatus, name: DeadlineName) -> Deadline | None:
    return next((d for d in claim.deadlines if d.name == name and d.met_at is None), None)


def time_left(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "—"
    seconds = (due - now).total_seconds()
    if seconds < 0:
        return "overdue"
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


async def _claims_in(service: ClaimService, person: Person, stage: Stage) -> list[ClaimStatus]:
    query = ClaimQuery(stage=stage, sort="next_deadline", limit=PAGE)
    return (await service.list_claims(query, person.caller)).items


@router.get("/worklist")
async def worklist(request: Request, person: Person) -> HTMLResponse:
    ClaimService.require(person.caller, Capability.WORK_EXAMINATIONS)
    service: ClaimService = request.app.state.claims
    now = datetime.now(UTC)
    scheduling = await _claims_in(service, person, Stage.SCHEDULING)
    to_confirm = [
        Due(c, d, time_left(d.due_at if d else None, now))
        for c in scheduling
        if c.appointment is not None
        for d in [_pending(c, DeadlineName.APPOINTMENT_CONFIRMATION)]
    ]
    exams: dict[date, list[ClaimStatus]] = defaultdict(list)
    for claim in await _claims_in(service, person, Stage.EXAM):
        if claim.appointment is not None:
            exams[claim.appointment.starts_at.astimezone(_zone(claim)).date()].append(claim)
    reports: list[Due] = []
    addenda: list[Addendum] = []
    for claim in await _claims_in(service, person, Stage.REPORT):
        deadline = _pending(claim, DeadlineName.REPORT)
        reports.append(Due(claim, deadline, time_left(deadline.due_at if deadline else None, now)))
        try:
            report = await service.report(claim, person.caller)
        except NotFound:
            continue  # no report filed yet: a first report, not an addendum
        sent_back = [v for v in report.versions if v.status == "addendum_requested"]
        if sent_back and sent_back[-1].version == report.versions[-1].version:
            addenda.append(Addendum(claim, sent_back[-1].addendum_reasons or []))
    await record(request, person, ROUTE)
    return page(
        request, "worklist.html", person, title="Worklist", to_confirm=to_confirm,
        exams=sorted(exams.items()), reports=reports, addenda=addenda, zone_of=_zone,
    )  # fmt: skip
