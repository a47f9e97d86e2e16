"""Demo simulator: starts DEMO claims through the HTTP API and plays examiner, reviewer and
adjuster for them, so the Temporal UI shows claims moving through every stage.

It acts only on the claims it started (remembered in `<data dir>/demo_claims.json`, so a second
`make run` carries on with them). Run it alone with `python -m devstack.demo`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.serving import CLIENT_IDLE_SECONDS
from devstack.dev_keys import load_dev_keys
from observability.logs import configure_logging
from settings import get_settings

log = logging.getLogger("ime.demo")

DEMO_INSURER = "demo-insurer"
STATES = {"NY": ("Albany", "12207"), "CA": ("Fresno", "93721"), "TX": ("Austin", "78701")}
SPECIALTIES = ["orthopedic_surgery", "neurology", "physical_medicine", "internal_medicine"]

# Each scenario is a script of what the humans do; the workflow does the rest.
SCENARIOS = [
    "approved",
    "denied",
    "no_show",
    "overdue_report",
    "examiner_replaced",
    "qa_addendum",
    "withdrawn",
    "declined",
    "rescheduled",
    "safety_imminent",
    # Denied, appealed at once: the senior reviewer asks for a new IME, whose report (related,
    # this time) the appeals adjuster overturns the denial on.
    "appealed",
]


@dataclass
class DemoClaim:
    claim_id: str
    scenario: str


def referral(n: int) -> dict[str, Any]:
    state = list(STATES)[n % len(STATES)]
    city, postal = STATES[state]
    return {
        "insurer_id": DEMO_INSURER,
        "claim_number": f"DEMO-{datetime.now(UTC):%Y%m%d}-{uuid.uuid4().hex[:6].upper()}",
        "claim_type": "workers_comp",
        "jurisdiction": "DEMO",
        "requested_specialty": SPECIALTIES[n % len(SPECIALTIES)],
        "claimant": {
            "full_name": f"Demo Claimant {n}",
            "date_of_birth": "1984-06-15",
            "phone": "+1-555-0100",
            "email": f"demo{n}@example.org",
            "address": {
                "line1": f"{n} Demo Street",
                "city": city,
                "state": state,
                "postal_code": postal,
            },
            "treating_provider_npis": [],
        },
        "injury": {
            "date_of_injury": "2026-09-01",
            "body_parts": ["lumbar spine"],
            "description": "demo injury",
        },
        "questions": ["Is the condition causally related?", "Is the claimant at MMI?"],
    }


def report(causation: str, complete: bool = True) -> dict[str, Any]:
    return {
        "diagnoses": ["lumbar strain"],
        "causation": causation if complete else None,
        "mmi_reached": True,
        "mmi_date": "2026-11-20",
        "impairment_percent": 4,
        "work_restrictions": "no lifting over 20 lb",
        "further_treatment": "physical therapy",
        "answers": ["Answered.", "Answered."] if complete else ["Answered."],
        "records_reviewed": ["intake records"],
    }


# Which dev key plays each part (devstack.dev_keys): the demo insurer starts and decides its
# claims, operations act for the examiners, a reviewer reviews, a clinician answers pages.
PLAYED_BY = {
    "start": "DEMO_INSURER_KEY",
    "read": "OPS_KEY",
    "confirm-appointment": "OPS_KEY",
    "decline-appointment": "OPS_KEY",
    "reschedule": "OPS_KEY",
    "exam": "OPS_KEY",
    "report": "OPS_KEY",
    "review": "REVIEWER_KEY",
    "decision": "DEMO_INSURER_KEY",
    # The appeal: recorded by ops; reviewed by someone who did not review before (the senior
    # reviewer) and decided by someone who did not deny (the insurer's appeals adjuster).
    "appeal": "OPS_KEY",
    "review-on-appeal": "SENIOR_REVIEWER_KEY",
    "appeal-decision": "DEMO_APPEALS_KEY",
    "withdraw": "DEMO_INSURER_KEY",
    "safety-ack": "CLINICIAN_KEY",
    "safety-resolve": "CLINICIAN_KEY",
}


class Simulator:
    def __init__(self, http: httpx.AsyncClient, keys: dict[str, str], state_file: Path) -> None:
        self._http = http
        self._keys = keys
        self._state_file = state_file
        self._claims: dict[str, DemoClaim] = {}
        self._started = 0
        self._side_tasks: set[asyncio.Task] = set()

    # --- persistence of the claims this simulator owns ----------------------------------------

    def load(self) -> list[DemoClaim]:
        if not self._state_file.exists():
            return []
        raw = json.loads(self._state_file.read_text())
        self._claims = {c["claim_id"]: DemoClaim(**c) for c in raw.get("claims", [])}
        self._started = raw.get("started", len(self._claims))
        return list(self._claims.values())

    def save(self) -> None:
        data = {"started": self._started, "claims": [c.__dict__ for c in self._claims.values()]}
        self._state_file.write_text(json.dumps(data, indent=1))

    # --- driving claims ------------------------------------------------------------------------

    def _as(self, part: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._keys.get(PLAYED_BY[part], '')}"}

    async def start_claim(self) -> DemoClaim:
        n = self._started
        answer = await self._http.post("/v1/claims", json=referral(n), headers=self._as("start"))
        answer.raise_for_status()
        claim = DemoClaim(answer.json()["claim_id"], SCENARIOS[n % len(SCENARIOS)])
        self._started += 1
        self._claims[claim.claim_id] = claim
        self.save()
        log.info("started demo claim %s (%s)", claim.claim_id, claim.scenario)
        return claim

    async def status(self, claim_id: str) -> dict[str, Any]:
        answer = await self._http.get(f"/v1/claims/{claim_id}", headers=self._as("read"))
        answer.raise_for_status()
        return answer.json()

    async def act(
        self, claim_id: str, action: str, body: dict[str, Any] | None = None, *, part: str = ""
    ) -> bool:
        answer = await self._http.post(
            f"/v1/claims/{claim_id}/actions/{action}",
            json=body or {},
            headers=self._as(part or action),
        )
        if answer.is_server_error:
            answer.raise_for_status()  # retried by drive_until_closed
        if answer.is_client_error:
            # 409: the claim moved on meanwhile (e.g. resumed after a restart); anything else is a
            # simulator bug worth a log line, not a retry loop.
            if answer.status_code != 409:
                log.warning("demo %s on %s answered %s", action, claim_id, answer.status_code)
            return False
        return True

    async def think(self, low: float = 3.0, high: float = 8.0) -> None:
        await asyncio.sleep(random.uniform(low, high))

    async def drive_until_closed(self, claim: DemoClaim) -> None:
        """Keep playing a claim through API restarts; forget it once it is closed."""
        while True:
            try:
                await self.drive(claim)
                break
            except httpx.HTTPError as err:
                log.warning("demo claim %s: %s; retrying", claim.claim_id, type(err).__name__)
                await asyncio.sleep(2)
        self._claims.pop(claim.claim_id, None)
        self.save()

    async def play_clinician(self, claim_id: str) -> None:
        """The on-call clinician: acknowledges after one missed page, then resolves."""
        await asyncio.sleep(12)
        await self.act(claim_id, "safety-ack", {"clinician_id": "demo-clinician"})
        await self.think(5, 10)
        await self.act(
            claim_id,
            "safety-resolve",
            {"actions_taken": ["warm_handoff", "referral_to_treatment"], "notes": "demo"},
        )

    async def drive(self, claim: DemoClaim) -> None:
        """Play the humans of one claim until it closes."""
        no_shows = 0
        addendum_sent = False
        declined = rescheduled = replaced = False
        while True:
            status = await self.status(claim.claim_id)
            stage = status["stage"]
            appeal = (status.get("appeal") or {}).get("phase")
            if claim.scenario == "appealed" and appeal == "window":
                await self.think(2, 5)
                received = datetime.now(UTC).isoformat()
                body = {"received_at": received, "reason": "new records from the physician"}
                await self.act(claim.claim_id, "appeal", body)
                continue
            if status["status"] == "closed":
                log.info("demo claim %s closed: %s", claim.claim_id, status["outcome"])
                return
            if claim.scenario == "withdrawn" and stage == "REPORT":
                await self.think()
                await self.act(claim.claim_id, "withdraw", {"reason": "claimant settled"})
            elif stage == "SCHEDULING" and status["appointment"]:
                await self.think()
                if claim.scenario == "declined" and not declined:
                    declined = await self.act(
                        claim.claim_id, "decline-appointment", {"reason": "schedule conflict"}
                    )
                else:
                    await self.act(claim.claim_id, "confirm-appointment")
            elif stage == "EXAM" and claim.scenario == "rescheduled" and not rescheduled:
                await self.think()
                rescheduled = await self.act(
                    claim.claim_id,
                    "reschedule",
                    {"reason": "claimant unwell", "requested_by": "claimant"},
                )
            elif stage == "EXAM":
                starts = datetime.fromisoformat(status["appointment"]["starts_at"])
                await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.5)
                attended = not (claim.scenario == "no_show" and no_shows == 0)
                no_shows += 0 if attended else 1
                imminent = claim.scenario == "safety_imminent"
                screen = {
                    "level": "imminent" if imminent else "none",
                    "toward": "self" if imminent else None,
                }
                await self.act(
                    claim.claim_id, "exam", {"attended": attended, "risk_screen": screen}
                )
                if imminent:
                    clinician = asyncio.create_task(self.play_clinician(claim.claim_id))
                    self._side_tasks.add(clinician)
                    clinician.add_done_callback(self._side_tasks.discard)
            elif stage == "REPORT" and claim.scenario == "examiner_replaced" and not replaced:
                # Past the report deadline and the escalation grace (20 s + 20 s): the claim
                # replaces the examiner and books a new exam, which this loop then plays.
                replaced = True
                await asyncio.sleep(45)
            elif stage == "REPORT":
                if claim.scenario == "overdue_report":
                    await asyncio.sleep(25)  # past the 20-second report deadline
                else:
                    await self.think(5, 12)
                complete = not (claim.scenario == "qa_addendum" and not addendum_sent)
                addendum_sent = addendum_sent or not complete
                first_report = appeal is None
                denies = claim.scenario == "denied" or (
                    claim.scenario == "appealed" and first_report
                )
                causation = "not_related" if denies else "related"
                await self.act(claim.claim_id, "report", report(causation, complete))
            elif stage == "REVIEW":
                await self.think(3, 8)
                accepted = {"result": "accepted", "reasons": []}
                part = "review-on-appeal" if appeal else "review"
                await self.act(claim.claim_id, "review", accepted, part=part)
            elif stage == "APPEAL" and appeal == "review":
                await self.think(3, 8)
                new_exam = {"result": "new_exam_requested"}
                await self.act(claim.claim_id, "review", new_exam, part="review-on-appeal")
            elif stage == "APPEAL" and appeal == "deciding":
                await self.think(3, 8)
                overturn = status["recommendation"] == "approve"
                decision = {
                    "outcome": "overturned" if overturn else "upheld",
                    "reason_code": "IME_SUPPORTS" if overturn else "IME_NOT_RELATED",
                }
                await self.act(claim.claim_id, "appeal-decision", decision)
            elif stage == "DECISION":
                await self.think(5, 12)
                if status["safety_hold"]:
                    continue  # no decision while the examinee's safety case is open
                denied = status["recommendation"] == "deny"
                await self.act(
                    claim.claim_id,
                    "decision",
                    {
                        "outcome": "denied" if denied else "approved",
                        "reason_code": "IME_NOT_RELATED" if denied else "IME_SUPPORTS",
                    },
                )
            else:
                await asyncio.sleep(1)

    async def run(self, initial: int, every_seconds: float, max_open: int) -> None:
        tasks = {asyncio.create_task(self.drive_until_closed(c)) for c in self.load()}
        for _ in range(max(0, initial - len(tasks))):
            tasks.add(asyncio.create_task(self.drive_until_closed(await self.start_claim())))
        while True:
            await asyncio.sleep(every_seconds)
            tasks = {t for t in tasks if not t.done()}
            if len(tasks) < max_open:
                tasks.add(asyncio.create_task(self.drive_until_closed(await self.start_claim())))


async def main() -> None:
    settings = get_settings()
    base_url = f"http://{settings.api_host}:{settings.api_port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    limits = httpx.Limits(keepalive_expiry=CLIENT_IDLE_SECONDS)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        keys = load_dev_keys(settings.data_dir)
        sim = Simulator(http, keys, settings.data_dir / "demo_claims.json")
        runner = asyncio.create_task(
            sim.run(settings.demo_claims, settings.demo_interval_seconds, settings.demo_max_open)
        )
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        runner.cancel()
        stopper.cancel()
        error = runner.exception() if runner in done else None
        if error is not None:
            raise error


if __name__ == "__main__":
    configured = get_settings()
    configure_logging("ime-demo", level=configured.log_level, fmt=configured.log_format)
    asyncio.run(main())
