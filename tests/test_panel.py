"""The examiner panel (issue 17): edits through `PATCH /v1/examiners/{id}`, the order of its
refusals, deactivation moving open bookings on through each claim's own action, and the CLI.
Real app, dev server, Postgres and worker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from domain.names import Role
from tests.helpers.config import claim_activities, make_settings
from tests.helpers.probes import appointment_status
from tests.helpers.processes import starter_cli
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.walk import post_action, wait_until
from worker import build_worker

ORTHO_1 = "ex-ny-orthopedic-surgery-1"
ORTHO_2 = "ex-ny-orthopedic-surgery-2"


def _listed(panel: list[dict], examiner_id: str) -> dict:
    return next(e for e in panel if e["id"] == examiner_id)


async def test_patch_changes_each_field_and_get_lists_it_with_its_load(api_client):
    http = api_client
    patch = {
        "name": "Dr. Edited Neurology (NY)",
        "specialty": "psychiatry",
        "licensed_states": ["NY", "NJ"],
        "capacity": 7,
        "location": "Buffalo, NY",
        "email": None,
    }
    answer = await http.patch("/v1/examiners/ex-ny-neurology-1", json=patch)
    assert answer.status_code == 200, answer.text
    expected = {
        "id": "ex-ny-neurology-1",
        "name": "Dr. Edited Neurology (NY)",
        "npi": "1900010000",
        "specialty": "psychiatry",
        "licensed_states": ["NY", "NJ"],
        "active": True,
        "capacity": 7,
        "location": "Buffalo, NY",
        "email": None,
        "open_bookings": 0,
        "load": 0.0,
    }
    assert answer.json() == expected | {"deactivation": None}
    assert _listed((await http.get("/v1/examiners")).json(), "ex-ny-neurology-1") == expected

    # One field at a time; the others stay.
    assert (await http.patch("/v1/examiners/ex-ny-neurology-1", json={"capacity": 9})).json()[
        "location"
    ] == "Buffalo, NY"
    off = await http.patch("/v1/examiners/ex-ny-neurology-1", json={"active": False})
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert off.json()["deactivation"] == {
        "examiner": expected | {"capacity": 9, "active": False},
        "rebooked": [],
        "left": [],
    }
    on = await http.patch("/v1/examiners/ex-ny-neurology-1", json={"active": True})
    assert on.json()["active"] is True and on.json()["deactivation"] is None
    listed = _listed((await http.get("/v1/examiners")).json(), "ex-ny-neurology-1")
    assert listed == expected | {"capacity": 9}


async def test_patch_refuses_in_order_401_403_404_422_without_echoing_values(api, api_client):
    ops = api_client
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    examiner = await api.as_role(Role.EXAMINER, examiner=ORTHO_1)
    nobody = api.client(None)
    url = f"/v1/examiners/{ORTHO_1}"

    assert (await nobody.patch(url, json={"capacity": 3})).status_code == 401
    for http in (insurer, examiner):
        assert (await http.patch(url, json={"capacity": 3})).status_code == 403
        # Unknown or not, the panel is not theirs: 403 either way (no existence leak).
        assert (
            await http.patch("/v1/examiners/ex-nobody", json={"capacity": 3})
        ).status_code == 403
    assert (await insurer.patch(url, json={"active": False})).status_code == 403
    unknown = await ops.patch("/v1/examiners/ex-nobody", json={"capacity": -77777})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"

    bad = await ops.patch(url, json={"capacity": -77777, "location": None, "made_up_9431": 1})
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_input"
    assert {d["field"] for d in error["details"]} == {"capacity", "location", "(unknown field)"}
    assert "77777" not in bad.text and "made_up_9431" not in bad.text
    bodies: list[dict] = [{"licensed_states": []}, {"licensed_states": ["ZZ"]}, {"specialty": "x"}]
    for body in bodies:
        answer = await ops.patch(url, json=body)
        assert answer.status_code == 422, body
        assert next(d["field"] for d in answer.json()["error"]["details"]).startswith(
            "licensed_states" if "licensed_states" in body else "specialty"
        )
    assert _listed((await ops.get("/v1/examiners")).json(), ORTHO_1)["capacity"] == 50


async def _booked(http, jurisdiction: str = "NY-WC") -> dict:
    created = await http.post("/v1/claims", json=referral_payload(jurisdiction))
    assert created.status_code == 201, created.text
    return await wait_until(http, created.json()["claim_id"], lambda c: c["appointment"])


async def _with(http, claim: dict, examiner_id: str) -> dict:
    if claim["examiner"]["id"] == examiner_id:
        return claim
    assigned = await post_action(http, claim["claim_id"], "assign", {"examiner_id": examiner_id})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["examiner"]["id"] == examiner_id
    return assigned.json()


def _events(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


async def test_deactivating_an_examiner_rebooks_their_open_bookings(api, parties):
    ops, pool = parties.ops, api.pool
    # In REPORT with ORTHO_1 (DEMO: the exam starts 5 s after booking).
    writing = await _booked(ops, "DEMO")
    assert writing["examiner"]["id"] == ORTHO_1
    confirmed = await post_action(ops, writing["claim_id"], "confirm-appointment")
    assert confirmed.status_code == 200, confirmed.text
    # In SCHEDULING, and in EXAM (confirmed), with ORTHO_1: ops assign them where the least
    # loaded examiner was someone else.
    scheduling = await _with(ops, await _booked(ops), ORTHO_1)
    exam = await _with(ops, await _booked(ops), ORTHO_1)
    exam = (await post_action(ops, exam["claim_id"], "confirm-appointment")).json()
    assert exam["stage"] == "EXAM"
    starts = datetime.fromisoformat(writing["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.3)
    attended = {"attended": True, "risk_screen": {"level": "none", "toward": None}}
    held = await post_action(ops, writing["claim_id"], "exam", attended)
    assert held.status_code == 200 and held.json()["stage"] == "REPORT"

    answer = await ops.patch(f"/v1/examiners/{ORTHO_1}", json={"active": False})
    assert answer.status_code == 200, answer.text
    done = answer.json()["deactivation"]
    assert answer.json()["active"] is False
    assert [(r["claim_id"], r["stage"], r["action"]) for r in done["rebooked"]] == sorted(
        [
            (scheduling["claim_id"], "SCHEDULING", "decline-appointment"),
            (exam["claim_id"], "EXAM", "reschedule"),
        ]
    )
    assert [(c["claim_id"], c["stage"], c["reason"]) for c in done["left"]] == [
        (writing["claim_id"], "REPORT", "report_stage")
    ]

    for claim, released_by in (
        (scheduling, "appointment_declined"),
        (exam, "appointment_rescheduled"),
    ):
        claim_id, old = claim["claim_id"], claim["appointment"]["id"]
        now = await wait_until(
            ops, claim_id, lambda c: c["examiner"] and c["examiner"]["id"] == ORTHO_2
        )
        assert now["stage"] == "SCHEDULING" and now["appointment"]["id"] != old
        assert await appointment_status(pool, old) == "cancelled"
        request_open = await pool.fetchval(
            "SELECT count(*) FROM inbox_items WHERE claim_id = $1 AND examiner_id = $2"
            " AND kind = 'appointment_request' AND done_at IS NULL",
            claim_id,
            ORTHO_1,
        )
        assert request_open == 0
        events = (await ops.get(f"/v1/claims/{claim_id}/events")).json()
        released = _events(events, released_by)
        assert len(released) == 1
        assert released[0]["actor"] == "ops" and released[0]["acted_by"]["role"] == "ops"
        assert released[0]["acted_by"]["key_name"] == "test ops"
        # The timeline says why: the service's own cause, not a caller's words.
        assert released[0]["details"]["cause"] == "examiner_deactivated"
        booked = _events(events, "appointment_booked")
        assert booked[-1]["details"]["examiner_id"] == ORTHO_2
        assert booked[-1]["seq"] > released[0]["seq"]
    declined = _events(
        (await ops.get(f"/v1/claims/{scheduling['claim_id']}/events")).json(),
        "appointment_declined",
    )
    assert declined[0]["details"] == {"examiner_id": ORTHO_1, "cause": "examiner_deactivated"}
    # A caller cannot claim that cause for a decline of their own.
    forged = await ops.post(
        f"/v1/claims/{scheduling['claim_id']}/actions/decline-appointment",
        json={"reason": "busy", "cause": "examiner_deactivated"},
    )
    assert forged.status_code == 422
    assert forged.json()["error"]["details"] == [
        {"field": "cause", "message": "Extra inputs are not permitted"}
    ]
    assert (await ops.get(f"/v1/claims/{writing['claim_id']}")).json()["examiner"]["id"] == ORTHO_1

    # Never booked again: ORTHO_1 (no open booking) would be the least loaded.
    later = await _booked(ops)
    assert later["examiner"]["id"] == ORTHO_2

    # A retry moves nothing twice.
    again = await ops.patch(f"/v1/examiners/{ORTHO_1}", json={"active": False})
    assert again.status_code == 200
    assert again.json()["deactivation"]["rebooked"] == []
    assert [c["reason"] for c in again.json()["deactivation"]["left"]] == ["report_stage"]
    events = (await ops.get(f"/v1/claims/{scheduling['claim_id']}/events")).json()
    assert len(_events(events, "appointment_declined")) == 1
    assert len(_events(events, "appointment_booked")) == 2
    panel = (await ops.get("/v1/examiners")).json()
    assert {k: _listed(panel, ORTHO_1)[k] for k in ("active", "open_bookings")} == {
        "active": False,
        "open_bookings": 0,
    }
    assert _listed(panel, ORTHO_2)["open_bookings"] == 3
    assert _listed(panel, ORTHO_2)["load"] == 0.06


@pytest.fixture
async def cli(dev_env, database_url, task_queue, pool):
    run = starter_cli(dev_address(dev_env), database_url, task_queue, timeout=60)
    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    async with build_worker(dev_env.client, settings, claim_activities(pool)):
        yield run


async def test_the_cli_edits_and_deactivates(cli):
    code, stdout, stderr = await cli(
        "panel", "edit", "ex-pa-psychology-2", "--capacity", "9", "--licences", "PA,NJ", "--json"
    )
    assert code == 0, stderr
    edited = json.loads(stdout)
    assert (edited["capacity"], edited["licensed_states"]) == (9, ["PA", "NJ"])

    code, stdout, stderr = await cli("panel", "deactivate", "ex-pa-psychology-2", "--json")
    assert code == 0, stderr
    done = json.loads(stdout)
    assert done["examiner"]["active"] is False and done["rebooked"] == done["left"] == []

    code, stdout, _ = await cli("panel", "list")
    assert code == 0
    row = next(line for line in stdout.splitlines() if "ex-pa-psychology-2" in line)
    assert "0/9" in row and " no " in row

    code, _, stderr = await cli("panel", "edit", "ex-pa-psychology-2", "--capacity", "-4242")
    assert code == 2
    error = json.loads(stderr)["error"]
    assert error["code"] == "invalid_input" and error["details"][0]["field"] == "capacity"
    assert "4242" not in stderr
    code, _, stderr = await cli("panel", "deactivate", "ex-nobody")
    assert code == 1 and json.loads(stderr)["error"]["code"] == "not_found"
