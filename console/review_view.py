"""What the reviewer's pages show beyond the service's answers: a claim's review deadline (the
review SLA of `domain.lifecycle.DEADLINES`) and the time left on it, the queue's order (overdue
first, then soonest due), the automatic QA checklist item by item (`domain.quality.qa_findings`,
the function the workflow runs on every filed report), each referral question beside its
answer, and the reasons of an addendum request as typed (one a line)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest

from domain.models import ClaimStatus, Deadline, ExamReport
from domain.names import DeadlineName
from domain.quality import CHECKLIST, qa_findings


def review_deadline(claim: ClaimStatus) -> Deadline | None:
    """The review SLA still running on the claim (each time the report comes back to REVIEW it
    has a new one; the earlier ones are met)."""
    return next(
        (d for d in claim.deadlines if d.name == DeadlineName.REVIEW and d.met_at is None), None
    )


def _span(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


def time_left(deadline: Deadline | None, now: datetime) -> str:
    """'3 days left', 'overdue by 5 h'; '—' without a running review deadline."""
    if deadline is None:
        return "—"
    seconds = (deadline.due_at - now).total_seconds()
    if deadline.breached or seconds < 0:
        return f"overdue by {_span(max(0.0, -seconds))}"
    return f"{_span(seconds)} left"


def is_overdue(deadline: Deadline | None, now: datetime) -> bool:
    return deadline is not None and (deadline.breached or deadline.due_at <= now)


def queue_order(claims: list[ClaimStatus]) -> list[ClaimStatus]:
    """By the review deadline: the earliest due first (so the overdue first, the longest overdue
    at the top), claims without one last, then by claim number."""

    def key(claim: ClaimStatus) -> tuple[bool, datetime, str]:
        deadline = review_deadline(claim)
        due = deadline.due_at if deadline else claim.updated_at
        return (deadline is None, due, claim.claim_number)

    return sorted(claims, key=key)


@dataclass(frozen=True)
class CheckItem:
    words: str
    passed: bool | None  # None: not checked (the referral's questions could not be read)
    findings: list[str]


def checklist(report: ExamReport, questions: list[str] | None) -> list[CheckItem]:
    """Each item of the automatic QA checklist, passed or failed with the findings' own words.
    Without the referral's questions the count of answers cannot be checked (said so)."""
    findings = qa_findings(report, len(questions) if questions is not None else 0)
    items = []
    for key, words in CHECKLIST:
        mine = [f.partition(":")[2].strip() for f in findings if f.partition(":")[0] == key]
        if key == "answers" and questions is None:
            items.append(CheckItem(words, None, []))
        else:
            items.append(CheckItem(words, not mine, mine))
    return items


@dataclass(frozen=True)
class Answered:
    number: int
    question: str | None  # None: the questions could not be read, or an answer beyond them
    answer: str | None  # None: not answered


def answered(report: ExamReport, questions: list[str] | None) -> list[Answered]:
    """Each referral question beside the report's answer of the same place (`answers` answers
    them in order), and any answer beyond the questions."""
    return [
        Answered(n, question, (answer or "").strip() or None)
        for n, (question, answer) in enumerate(
            zip_longest(questions or [], report.answers), start=1
        )
    ]


def reasons_of(text: str | None) -> list[str]:
    """The reasons of an addendum request: one a line, as typed (blank lines dropped)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]
