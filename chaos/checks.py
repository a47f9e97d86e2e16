"""The exact checks after a fault: nothing lost, nothing twice, readiness told the truth.

Each check takes what a run left (the claims' rows in Postgres, the driver's walks, what the
receivers got, the readiness probes) and returns findings: one line each, naming the claim (its
opaque id, never PHI) and what is wrong. No finding is a pass. `make chaos` and tests/test_chaos.py
run the same checks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from chaos.driver import Walk
from chaos.expected import (
    DEADLINE_EVENTS,
    EVENT_NOTICES,
    HAPPY_PATH_EVENTS,
    RECOMMENDATION,
    REMINDER,
    STEP_EVENTS,
)
from chaos.receivers import Mail, WebhookReceiver
from domain.delivery import EMAIL_RECIPIENTS, INBOX, WEBHOOK_EVENTS, WebhookEvent
from domain.names import EventType, Recipient, Template
from store import inspection

TRANSIENT = ("timeout", "5")  # answers after which a request is sent again with its key


@dataclass(frozen=True)
class Event:
    seq: int
    type: str
    stage: str
    details: dict[str, Any]
    recorded_at: datetime


@dataclass
class ClaimRecord:
    """Everything Postgres holds of one claim that the checks look at."""

    claim_id: str
    stage: str = ""
    status: str = ""
    outcome: str | None = None
    version: int = 0
    events: list[Event] = field(default_factory=list)
    outbox: list[tuple[str, str, str]] = field(default_factory=list)  # key, recipient, template
    deliveries: list[asyncpg.Record] = field(default_factory=list)
    inbox: set[str] = field(default_factory=set)  # outbox keys with an inbox item
    appointments: list[tuple[int, str]] = field(default_factory=list)  # attempt, status

    def closed_at(self) -> datetime | None:
        return next((e.recorded_at for e in self.events if e.type == "claim_closed"), None)


async def load(conn: asyncpg.Connection, claim_ids: Sequence[str]) -> dict[str, ClaimRecord]:
    records = {claim_id: ClaimRecord(claim_id) for claim_id in claim_ids}
    rows = await inspection.claim_rows(conn, claim_ids)
    for row in rows.claims:
        record = records[row["claim_id"]]
        record.stage, record.status = row["stage"], row["status"]
        record.outcome, record.version = row["outcome"], row["version"]
    for row in rows.events:
        details = row["details"]
        records[row["claim_id"]].events.append(
            Event(
                row["seq"],
                row["type"],
                row["stage"],
                json.loads(details) if isinstance(details, str) else dict(details),
                row["recorded_at"],
            )
        )
    for row in rows.outbox:
        records[row["claim_id"]].outbox.append((row["key"], row["recipient"], row["template"]))
    for row in rows.deliveries:
        records[row["claim_id"]].deliveries.append(row)
    for row in rows.inbox:
        records[row["claim_id"]].inbox.add(row["outbox_key"])
    for row in rows.appointments:
        records[row["claim_id"]].appointments.append((row["attempt"], row["status"]))
    return records


# --------------------------------------------------------------------------- outcomes, audit log


def check_outcomes(walks: Iterable[Walk], records: dict[str, ClaimRecord]) -> list[str]:
    """Every claim reached the stage and outcome its plan says, in the projection too."""
    findings = []
    for walk in walks:
        if not walk.claim_id:
            findings.append(f"claim {walk.plan.n} was never started: {walk.error}")
            continue
        record = records[walk.claim_id]
        where = f"{walk.claim_id} (#{walk.plan.n})"
        if walk.error:
            findings.append(f"{where}: the walk gave up: {walk.error}")
        wanted = ("CLOSED", "closed", walk.plan.outcome)
        if (record.stage, record.status, record.outcome) != wanted:
            findings.append(
                f"{where}: projection {record.stage}/{record.status}/{record.outcome}, "
                f"expected {'/'.join(wanted)}"
            )
        if record.events and record.version != record.events[-1].seq:
            findings.append(
                f"{where}: projection version {record.version} but the last event is "
                f"#{record.events[-1].seq}"
            )
    return findings


def normalised_path(events: Sequence[Event]) -> list[str]:
    """The event types without the detours a deadline may add: its breaches, and a released
    booking (`appointment_expired` right after the booking it released; the booking that
    replaces it follows)."""
    path: list[str] = []
    for kind in (e.type for e in events if e.type != "deadline_breached"):
        if kind == "appointment_expired" and path and path[-1] == "appointment_booked":
            path.pop()
            continue
        path.append(kind)
    return path


def check_audit_log(walks: Iterable[Walk], records: dict[str, ClaimRecord]) -> list[str]:
    """Per claim: sequence 1..n without a gap or a repeat, exactly the happy path's events in
    order (besides deadline detours, each breach once), the planned outcome in the details."""
    findings = []
    for walk in walks:
        if not walk.claim_id:
            continue
        events = records[walk.claim_id].events
        where = walk.claim_id
        seqs = [e.seq for e in events]
        if seqs != list(range(1, len(events) + 1)):
            findings.append(f"{where}: event sequence {seqs} is not 1..{len(events)}")
        path = normalised_path(events)
        if path != HAPPY_PATH_EVENTS:
            findings.append(f"{where}: events {[e.type for e in events]}")
        breaches = Counter(
            (e.details.get("deadline"), e.details.get("raised"))
            for e in events
            if e.type == "deadline_breached"
        )
        repeated = [b for b, n in breaches.items() if n > 1]
        if repeated:
            findings.append(f"{where}: deadline breaches recorded twice: {repeated}")
        outcome = walk.plan.outcome
        by_type = {e.type: e for e in events}
        decided = by_type.get("decision_issued")
        if decided is not None and decided.details.get("outcome") != outcome:
            findings.append(f"{where}: decision {decided.details.get('outcome')}, not {outcome}")
        accepted = by_type.get("report_accepted")
        wanted = RECOMMENDATION[outcome]
        if accepted is not None and accepted.details.get("recommendation") != wanted:
            findings.append(f"{where}: recommendation {accepted.details}, not {wanted}")
    return findings


def deadline_detours(records: Iterable[ClaimRecord]) -> int:
    """How many events deadlines added (a claim slowed past a DEMO deadline), for the report."""
    return sum(1 for r in records for e in r.events if e.type in DEADLINE_EVENTS)


# --------------------------------------------------------------------------- the idempotency keys


def check_answers(walks: Iterable[Walk], records: dict[str, ClaimRecord]) -> list[str]:
    """The driver's side of the idempotency promise: every step that took effect was answered
    200 on exactly one key (a retry with the same key got the first answer back), and took
    effect once. A step applied by a request whose answer was lost, and then answered 409 on
    its retry, breaks the promise."""
    findings = []
    for walk in walks:
        if not walk.claim_id:
            continue
        events = Counter(e.type for e in records[walk.claim_id].events)
        answered = Counter(
            step for step, answers in walk.answers.values() if answers and answers[-1] == "200"
        )
        for step, event in STEP_EVENTS.items():
            if answered[step] != events[event]:
                history = {k: a for k, (s, a) in walk.answers.items() if s == step}
                findings.append(
                    f"{walk.claim_id}: {step} answered 200 on {answered[step]} key(s) but "
                    f"recorded {events[event]} time(s); answers per key: {history}"
                )
    return findings


def retried_keys(walks: Iterable[Walk]) -> int:
    """Keys sent more than once (after a connection error, a timeout or a 5xx), for the report."""
    return sum(1 for w in walks for _, answers in w.answers.values() if len(answers) > 1)


# --------------------------------------------------------------------------- outbox and delivery


def expected_notices(events: Sequence[Event]) -> Counter[tuple[str, str]]:
    wanted: Counter[tuple[str, str]] = Counter()
    for event in events:
        if event.type == "deadline_breached":
            wanted.update((str(who), "deadline_breached") for who in event.details.get("told", []))
        else:
            wanted.update(EVENT_NOTICES.get(event.type, []))
    return wanted


def check_outbox(records: Iterable[ClaimRecord]) -> list[str]:
    """Per claim: exactly the notifications its events make (by recipient and template), none
    missing and none twice. Reminders have no event of their own (their key, one per deadline
    and due time, keeps each once); they are counted in the report."""
    findings = []
    for record in records:
        made = Counter((r, t) for _, r, t in record.outbox if t != REMINDER)
        wanted = expected_notices(record.events)
        if made != wanted:
            missing, extra = wanted - made, made - wanted
            findings.append(
                f"{record.claim_id}: outbox missing {dict(missing)}, extra {dict(extra)}"
            )
    return findings


def expected_webhooks(claim_id: str, events: Sequence[Event]) -> set[str]:
    """The webhook event ids (`<claim>:<seq>:<type>`) of a claim's events, for its insurer's
    endpoint subscribed to every type."""
    wanted: set[str] = set()
    before: str | None = None
    for event in events:
        kinds = []
        mapped = WEBHOOK_EVENTS.get(EventType(event.type))
        if mapped is not None:
            kinds.append(mapped)
        if before is not None and before != event.stage:
            kinds.append(WebhookEvent.CLAIM_STAGE_CHANGED)
        wanted.update(f"{claim_id}:{event.seq}:{kind.value}" for kind in kinds)
        before = event.stage
    return wanted


def check_deliveries(
    records: Iterable[ClaimRecord], receiver: WebhookReceiver, mails: Sequence[Mail]
) -> list[str]:
    """Every outbox row that goes out by email has one delivery, every event its webhook, and
    each was delivered, and received, exactly once (the receivers keep one copy per message id);
    every notification someone must act on has its inbox item; nothing is left undelivered."""
    findings = []
    records = list(records)
    received = receiver.for_claims({r.claim_id for r in records})
    hooks_by_event = Counter(r.event_id for r in received.values())
    mail_copies = Counter(delivery_of(m) for m in mails)
    for record in records:
        where = record.claim_id
        statuses = Counter(d["status"] for d in record.deliveries)
        if set(statuses) != {"delivered"}:
            findings.append(f"{where}: deliveries not all delivered: {dict(statuses)}")
        emails = {d["outbox_key"]: d for d in record.deliveries if d["channel"] == "email"}
        for key, recipient, template in record.outbox:
            if Recipient(recipient) in EMAIL_RECIPIENTS and key not in emails:
                findings.append(f"{where}: no email delivery for {recipient}/{template}")
            if (Recipient(recipient), Template(template)) in INBOX and key not in record.inbox:
                findings.append(f"{where}: no inbox item for {recipient}/{template}")
        if len(emails) != sum(1 for d in record.deliveries if d["channel"] == "email"):
            findings.append(f"{where}: more than one email delivery for a notification")
        outbox_keys = {key for key, _, _ in record.outbox}
        if set(emails) - outbox_keys:
            findings.append(f"{where}: email deliveries without a notification")
        for delivery in emails.values():
            if mail_copies[str(delivery["id"])] == 0:
                findings.append(f"{where}: email {delivery['outbox_key']} never reached the sink")
        wanted = expected_webhooks(where, record.events)
        queued = {
            d["dedup"].split(":", 2)[2] for d in record.deliveries if d["channel"] == "webhook"
        }
        if queued != wanted:
            findings.append(
                f"{where}: webhooks queued {sorted(queued - wanted)} unexpectedly, "
                f"missing {sorted(wanted - queued)}"
            )
        got = {e for e in hooks_by_event if e.startswith(f"{where}:")}
        if got != wanted:
            findings.append(
                f"{where}: webhooks received {sorted(got - wanted)} unexpectedly, "
                f"missing {sorted(wanted - got)}"
            )
        twice = [e for e in got if hooks_by_event[e] > 1]
        if twice:
            findings.append(f"{where}: one event under several webhook-ids: {twice}")
    if receiver.bad_signatures:
        findings.append(f"{receiver.bad_signatures} webhook(s) with a bad signature")
    return findings


def delivery_of(mail: Mail) -> str:
    """The delivery a mail is (its Message-ID is `<delivery id@domain>`)."""
    return mail.message_id.strip("<>").split("@", 1)[0]


def delivery_figures(
    records: Iterable[ClaimRecord], receiver: WebhookReceiver, mails: Sequence[Mail]
) -> dict[str, int]:
    """Counts for the report: what went out, and the repeats the receivers dropped."""
    records = list(records)
    received = receiver.for_claims({r.claim_id for r in records})
    ids = {str(d["id"]) for r in records for d in r.deliveries if d["channel"] == "email"}
    ours = [m for m in mails if delivery_of(m) in ids]
    return {
        "outbox": sum(len(r.outbox) for r in records),
        "webhooks": len(received),
        "webhook_repeats": sum(receiver.repeats[m] for m in received),
        "emails": len({m.message_id for m in ours}),
        "email_repeats": len(ours) - len({m.message_id for m in ours}),
        "attempts": sum(d["attempts"] for r in records for d in r.deliveries),
        "reminders": sum(1 for r in records for _, _, t in r.outbox if t == REMINDER),
    }


# --------------------------------------------------------------------------- appointments


def check_appointments(records: Iterable[ClaimRecord]) -> list[str]:
    """One appointment per booking event; the last attended, every earlier one released: no
    slot left held."""
    findings = []
    for record in records:
        booked = sum(1 for e in record.events if e.type == "appointment_booked")
        statuses = [status for _, status in record.appointments]
        wanted = ["cancelled"] * (booked - 1) + ["attended"]
        if statuses != wanted:
            findings.append(f"{record.claim_id}: appointments {statuses}, expected {wanted}")
    return findings


# --------------------------------------------------------------------------- readiness


@dataclass(frozen=True)
class Probe:
    """One GET /readyz: when it was sent and answered, the status (None: no answer) and the
    names of the checks it reported failing."""

    sent: float
    answered: float
    status: int | None
    failing: frozenset[str]


@dataclass(frozen=True)
class Outage:
    """A dependency known down (by the harness's own look at it) from `start` to `end`."""

    dependency: str  # "postgres" or "temporal"
    start: float
    end: float


def check_readiness(probes: Sequence[Probe], outages: Sequence[Outage]) -> list[str]:
    """/readyz told the truth: every answer to a probe sent and answered within an outage is a
    503 naming the dependency that was down, and there was such an answer."""
    findings = []
    for outage in outages:
        inside = [
            p
            for p in probes
            if p.status is not None and p.sent >= outage.start and p.answered <= outage.end
        ]
        if not inside:
            findings.append(
                f"/readyz gave no answer during the {outage.end - outage.start:.1f} s "
                f"{outage.dependency} outage"
            )
        for probe in inside:
            if probe.status != 503 or outage.dependency not in probe.failing:
                findings.append(
                    f"/readyz answered {probe.status} (failing: {sorted(probe.failing)}) "
                    f"while {outage.dependency} was down"
                )
                break
    return findings
