"""The parties of DEMO claims, through the HTTP API: the insurer refers and decides, operations act
for the examiner, a reviewer reviews. Each claim knows the outcome it must reach.

Every POST carries an `Idempotency-Key` unique per (claim, step) and is sent again with the SAME
key after a connection error, a timeout or a 5xx, until the claim's deadline: what the service
promises is that such a retry is answered with the first answer and applied once. Every answer
is kept per key, so the checks can hold the service to that.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from api.serving import CLIENT_IDLE_SECONDS
from domain.examples import ACTION_EXAMPLES, SAMPLE_REFERRAL

Outcome = Literal["approved", "denied"]
# The human steps of a claim, in order, with the party that takes each.
STEPS: dict[str, str] = {
    "confirm-appointment": "ops",
    "exam": "ops",
    "report": "ops",
    "review": "reviewer",
    "decision": "insurer",
}
# Which stage each step is taken in.
STEP_OF_STAGE = {
    "SCHEDULING": "confirm-appointment",
    "EXAM": "exam",
    "REPORT": "report",
    "REVIEW": "review",
    "DECISION": "decision",
}
SPREAD = [  # claimants in three states, four specialties: the load spreads over 24 examiners
    ("NY", "Albany", "12207"),
    ("CA", "Fresno", "93721"),
    ("TX", "Austin", "78701"),
]
SPECIALTIES = ["orthopedic_surgery", "neurology", "physical_medicine", "internal_medicine"]
REQUEST_TIMEOUT = 45.0  # above the API's own bound on an action (30 s + 5 s)
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Plan:
    """One claim of the run and the outcome it must reach."""

    tag: str  # the run's and scenario's tag: claim numbers and keys carry it
    n: int
    outcome: Outcome

    @property
    def claim_number(self) -> str:
        return f"CHAOS-{self.tag}-{self.n:04d}"

    def referral(self) -> dict[str, Any]:
        body = copy.deepcopy(SAMPLE_REFERRAL)
        state, city, postal = SPREAD[self.n % len(SPREAD)]
        body["claim_number"] = self.claim_number
        body["requested_specialty"] = SPECIALTIES[self.n % len(SPECIALTIES)]
        claimant = body["claimant"]
        # A claimant of their own (the panel never books one examiner twice for one claimant).
        claimant["full_name"] = f"Chaos Claimant {self.tag} {self.n}"
        claimant["email"] = f"claimant-{self.tag.lower()}-{self.n}@example.org"
        claimant["address"] |= {"city": city, "state": state, "postal_code": postal}
        return body

    def key(self, step: str, occasion: str) -> str:
        return f"chaos-{self.tag}-{self.n}-{step}-{occasion}"

    def body(self, step: str) -> dict[str, Any]:
        denied = self.outcome == "denied"
        match step:
            case "exam":
                return {"attended": True, "risk_screen": {"level": "none", "toward": None}}
            case "report":
                report = copy.deepcopy(ACTION_EXAMPLES["report"])
                return report | {"causation": "not_related" if denied else "related"}
            case "review":
                return {"result": "accepted", "reasons": []}
            case "decision":
                reason = "IME_NOT_RELATED" if denied else "IME_SUPPORTS"
                return {"outcome": self.outcome, "reason_code": reason}
        return {}


def plans(tag: str, count: int, denied_every: int = 5) -> list[Plan]:
    """`count` claims; every `denied_every`-th one is to be denied, the rest approved."""
    return [Plan(tag, n, "denied" if n % denied_every == 4 else "approved") for n in range(count)]


@dataclass
class Walk:
    """What happened to one claim: its id, final status, and every answer per idempotency key."""

    plan: Plan
    claim_id: str = ""
    final: dict[str, Any] | None = None
    error: str = ""
    # Per idempotency key: the step and the answers, in order ("200", "409", "503", "timeout"...).
    answers: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)  # 409s per step
    retries: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0

    def note(self, key: str, step: str, answer: str) -> None:
        self.answers.setdefault(key, (step, []))[1].append(answer)


class ClaimGaveUp(Exception):
    pass


class Driver:
    """Walks claims concurrently; `clients` are the parties' HTTP clients (insurer, ops,
    reviewer), each holding its API key."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient], deadline_seconds: float) -> None:
        self._clients = clients
        self._deadline_seconds = deadline_seconds

    async def walk(self, plan: Plan) -> Walk:
        walk = Walk(plan, started_at=time.time())
        deadline = time.monotonic() + self._deadline_seconds
        try:
            await self._walk(walk, deadline)
        except ClaimGaveUp as gave_up:
            walk.error = str(gave_up)
        walk.ended_at = time.time()
        return walk

    async def _walk(self, walk: Walk, deadline: float) -> None:
        plan = walk.plan
        # The claim number makes the start idempotent (201, then 200 with the same claim); the
        # key is sent all the same, as with every POST.
        key = plan.key("start", "1")
        started = await self._post(
            walk, "insurer", "/v1/claims", plan.referral(), key, "start", deadline
        )
        if started.status_code not in (200, 201):
            raise ClaimGaveUp(f"start answered {started.status_code}")
        status: dict[str, Any] = started.json()
        walk.claim_id = status["claim_id"]
        while status["status"] != "closed":
            if time.monotonic() > deadline:
                raise ClaimGaveUp(f"not closed by the deadline (stage {status['stage']})")
            status = await self._next(walk, status, deadline)
        walk.final = status

    async def _next(self, walk: Walk, status: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Take the step the claim waits for, or wait and read it again."""
        plan = walk.plan
        step = STEP_OF_STAGE.get(status["stage"])
        appointment = status.get("appointment")
        if step is None or (step == "confirm-appointment" and appointment is None):
            await asyncio.sleep(POLL_SECONDS)  # booking, or the claim's own closing steps
            return await self._read(walk, deadline)
        if step == "exam" and appointment is not None:
            starts = datetime.fromisoformat(appointment["starts_at"])
            # The outcome is accepted once the appointment has started.
            await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.3)
        # One key per step, appointment and refusal: a rebooked claim confirms its new
        # appointment anew, and after a 409 (kept as the key's answer) a new try needs a new key.
        occasion = f"{appointment['id'] if appointment else '-'}-{walk.refused[step]}"
        path = f"/v1/claims/{walk.claim_id}/actions/{step}"
        party = STEPS[step]
        answer = await self._post(
            walk, party, path, plan.body(step), plan.key(step, occasion), step, deadline
        )
        if answer.status_code == 200:
            return dict(answer.json())
        if answer.status_code == 409:
            # The claim moved on meanwhile (a deadline, or an earlier copy of this very request:
            # the checks tell which); read it again.
            walk.refused[step] += 1
            await asyncio.sleep(POLL_SECONDS)
            return await self._read(walk, deadline)
        raise ClaimGaveUp(f"{step} answered {answer.status_code}: {answer.text[:200]}")

    async def _read(self, walk: Walk, deadline: float) -> dict[str, Any]:
        http = self._clients["ops"]
        while True:
            try:
                answer = await http.get(f"/v1/claims/{walk.claim_id}")
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                return dict(answer.json())
            if answer is not None and answer.status_code < 500:
                raise ClaimGaveUp(f"reading the claim answered {answer.status_code}")
            await self._pause(walk, deadline, "reading the claim")

    async def _post(
        self,
        walk: Walk,
        party: str,
        path: str,
        body: dict[str, Any],
        key: str,
        step: str,
        deadline: float,
    ) -> httpx.Response:
        """POST until an answer that is not a transient failure, always with the same key."""
        http = self._clients[party]
        while True:
            try:
                answer = await http.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.TimeoutException:
                walk.note(key, step, "timeout")
            except httpx.TransportError as err:
                walk.note(key, step, type(err).__name__)
            else:
                walk.note(key, step, str(answer.status_code))
                if answer.status_code < 500:
                    return answer
            await self._pause(walk, deadline, step)

    async def _pause(self, walk: Walk, deadline: float, doing: str) -> None:
        walk.retries += 1
        if time.monotonic() > deadline:
            raise ClaimGaveUp(f"still failing at the deadline ({doing})")
        await asyncio.sleep(random.uniform(0.3, 1.0))


async def walk_all(driver: Driver, claims: list[Plan], ramp_seconds: float) -> list[Walk]:
    """Walk every claim at once, their starts spread over `ramp_seconds` (so that a fault finds
    claims in every stage)."""

    async def one(plan: Plan, delay: float) -> Walk:
        await asyncio.sleep(delay)
        return await driver.walk(plan)

    step = ramp_seconds / max(1, len(claims))
    return list(await asyncio.gather(*(one(p, i * step) for i, p in enumerate(claims))))


def party_clients(
    api_url: str, keys: Mapping[str, str], *, connections: int = 64
) -> dict[str, httpx.AsyncClient]:
    """The parties' HTTP clients: the insurer of the sample referral, ops, a reviewer."""
    labels = {"insurer": "INSURER_KEY", "ops": "OPS_KEY", "reviewer": "REVIEWER_KEY"}
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=CLIENT_IDLE_SECONDS,
    )
    return {
        party: httpx.AsyncClient(
            base_url=api_url,
            timeout=REQUEST_TIMEOUT,
            limits=limits,
            headers={"Authorization": f"Bearer {keys[label]}"},
        )
        for party, label in labels.items()
    }
