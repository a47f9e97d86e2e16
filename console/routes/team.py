"""The team page of an insurer's supervisor: their insurer's claims in DECISION whose decision
deadline has passed, oldest first, with how long each is overdue and its extensions.

Read through `GET /v1/claims`'s own query (`ClaimService.list_claims`: stage DECISION, overdue)
and each claim's timeline as the supervisor's own `Caller` reads them, so the page shows nothing
any caller of that insurer could not read; the `supervisor` flag only opens the page (403 for an
adjuster, as for any role without `Capability.SUPERVISE_DECISIONS`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from console import services
from console.audit import record
from console.render import allowed, page
from console.session import Person
from domain.access import Capability
from domain.errors import Forbidden
from domain.models import ClaimQuery, ClaimStatus, TimelineEvent
from domain.names import DeadlineName, EventType, Stage

router = APIRouter(prefix="/console")
ROUTE = "/console/team"
# One page of the API's list (its largest): a team's overdue decisions beyond it are a backlog
# the page says it cut short rather than a longer page.
_LIMIT = 200


@dataclass(frozen=True)
class OverdueDecision:
    claim: ClaimStatus
    due_at: datetime
    overdue_for: str
    extensions: list[TimelineEvent]


def overdue_words(delta: timedelta) -> str:
    """How long past due, as people say it (days, hours, minutes; seconds under a minute)."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n][:2]
    return ", ".join(words) if words else f"{seconds} second{'' if seconds == 1 else 's'}"


def _decision_due(claim: ClaimStatus, now: datetime) -> datetime | None:
    """The pending decision deadline's due time, when it has passed (else None)."""
    for deadline in claim.deadlines:
        if deadline.name is DeadlineName.DECISION and deadline.met_at is None:
            return deadline.due_at if deadline.breached or deadline.due_at <= now else None
    return None


@router.get("/team")
async def team_page(request: Request, person: Person) -> HTMLResponse:
    if not allowed(person, Capability.SUPERVISE_DECISIONS):
        await record(request, person, ROUTE, status=403)
        raise Forbidden("only an insurer's supervisor has the team page")
    claims = services.claim_service(request)
    query = ClaimQuery(stage=Stage.DECISION, overdue=True, sort="next_deadline", limit=_LIMIT)
    found = await claims.list_claims(query, person.caller)
    now = datetime.now(UTC)
    rows = []
    for claim in found.items:
        due_at = _decision_due(claim, now)
        if due_at is None:
            continue  # overdue on another deadline (e.g. a records lead), not the decision
        timeline = await claims.timeline(claim, person.caller)
        extended = [e for e in timeline if e.type is EventType.DECISION_EXTENDED]
        rows.append(OverdueDecision(claim, due_at, overdue_words(now - due_at), extended))
    rows.sort(key=lambda r: r.due_at)  # the longest overdue first
    await record(request, person, ROUTE)
    return page(
        request, "team.html", person, title="Team: overdue decisions", rows=rows,
        cut_short=found.next_cursor is not None,
    )  # fmt: skip
