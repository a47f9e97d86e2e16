"""An examiner's away periods (issue 18): `GET`/`PUT /v1/examiners/{id}/away` for ops and the
examiner themself, their 422s without echoing a value, the booking skipping an away day (store
level, on real Postgres: another examiner, or a later slot of the same one), the search naming
`away`, and a DEMO claim booked around an absence with a booking already made listed as a
conflict, not moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from domain.models import ScheduleRequest, Specialty
from domain.names import Role
from store import panel
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import wait_until

# Tuesday 1 December 2026, 09:00 in Chicago (the TX-DD profile's timezone): the first slot.
AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NEURO_1, NEURO_2 = "ex-tx-neurology-1", "ex-tx-neurology-2"
ORTHO_1, ORTHO_2 = "ex-ny-orthopedic-surgery-1", "ex-ny-orthopedic-surgery-2"


def request(claim_id: str, **overrides) -> ScheduleRequest:
    values = {
        "claim_id": claim_id,
        "attempt": 1,
        "specialty": Specialty.NEUROLOGY,
        "licence_state": "TX",
        "claimant_key": "claimant-away",
        "earliest_start": AT,
        "duration_seconds": 3600,
        "business_hours": True,
        "timezone": "America/Chicago",
    } | overrides
    return ScheduleRequest.model_validate(values)


async def set_away(pool: asyncpg.Pool, examiner_id: str, *periods: tuple[str, str]) -> None:
    await pool.execute(
        """INSERT INTO examiner_away (examiner_id, starts_on, ends_on, created_by)
           SELECT $1, s::date, e::date, '{"role": "ops"}'
           FROM unnest($2::text[], $3::text[]) AS p (s, e)""",
        examiner_id,
        [p[0] for p in periods],
        [p[1] for p in periods],
    )


async def booked(pool: asyncpg.Pool, req: ScheduleRequest) -> tuple[str, str] | None:
    async with pool.acquire() as conn:
        found = await panel.book(conn, req, "claimant-away")
    return (found[0].id, found[1].starts_at.isoformat()) if found else None


async def test_the_booking_skips_away_days_for_another_examiner_or_a_later_slot(pool):
    # NEURO_1, least loaded and first by id, is away on the 1st and the 2nd.
    await set_away(pool, NEURO_1, ("2026-12-01", "2026-12-02"))
    # The exam window closes before NEURO_1 is back: the other neurologist, at the first slot.
    window = request("away-a", latest_start=datetime(2026, 12, 2, 23, 0, tzinfo=UTC))
    assert await booked(pool, window) == (NEURO_2, "2026-12-01T15:00:00+00:00")
    # No window: NEURO_1 (least loaded again) at their first slot back, Thursday 09:00 Chicago.
    later = request("away-b")
    assert await booked(pool, later) == (NEURO_1, "2026-12-03T15:00:00+00:00")


async def test_the_day_is_read_in_the_bookings_timezone(pool):
    """Tuesday 21:00 in Chicago is already Wednesday in UTC: away on Tuesday (Chicago), the
    examiner's hourly slots (no business hours) start again at Wednesday 00:00 in Chicago."""
    await set_away(pool, NEURO_1, ("2026-12-01", "2026-12-01"))
    req = request(
        "away-c",
        business_hours=False,
        earliest_start=datetime(2026, 12, 2, 3, 0, tzinfo=UTC),
    )
    assert await booked(pool, req) == (NEURO_1, "2026-12-02T06:00:00+00:00")


async def test_the_search_names_away_when_absence_alone_kept_them_off(pool):
    for examiner_id in (NEURO_1, NEURO_2):
        await set_away(pool, examiner_id, ("2026-11-30", "2026-12-04"))
    closes = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    req = request("away-d", latest_start=closes)
    assert await booked(pool, req) is None
    async with pool.acquire() as conn:
        found = await panel.search(conn, req, "claimant-away", at=AT)
        rules = {p.examiner_id: p.rule.value for p in found.passed_over}
        assert (rules[NEURO_1], rules[NEURO_2]) == ("away", "away")
        assert rules["ex-ny-neurology-1"] == "licence"
        # Ops' own pick: the refusal the workflow words says `no_slot` (its rules are frozen).
        chosen = request("away-d", latest_start=closes, only_examiner_id=NEURO_1)
        picked = await panel.search(conn, chosen, "claimant-away", at=AT)
    assert [(p.examiner_id, p.rule.value) for p in picked.passed_over] == [(NEURO_1, "no_slot")]


async def test_put_and_get_round_trip_and_refusals(api, api_client):
    ops = api_client
    url = f"/v1/examiners/{ORTHO_1}/away"
    assert (await ops.get(url)).json() == {"examiner_id": ORTHO_1, "periods": [], "conflicts": []}
    body = {
        "periods": [
            {"starts_on": "2027-03-01", "ends_on": "2027-03-05"},
            {"starts_on": "2027-01-04", "ends_on": "2027-01-04"},
        ]
    }
    put = await ops.put(url, json=body)
    assert put.status_code == 200, put.text
    expected = {
        "examiner_id": ORTHO_1,
        "periods": [
            {"starts_on": "2027-01-04", "ends_on": "2027-01-04"},
            {"starts_on": "2027-03-01", "ends_on": "2027-03-05"},
        ],
        "conflicts": [],
    }
    assert put.json() == expected
    assert (await ops.get(url)).json() == expected
    # Who set a period is kept; a period sent again keeps its row.
    rows = await api.pool.fetch(
        "SELECT starts_on, created_by FROM examiner_away WHERE examiner_id = $1 ORDER BY 1",
        ORTHO_1,
    )
    assert [r["created_by"]["role"] for r in rows] == ["ops", "ops"]

    # The examiner themself (a key scoped to them) replaces their own list.
    own = await api.as_role(Role.EXAMINER, examiner=ORTHO_1)
    mine = {"periods": [{"starts_on": "2027-03-01", "ends_on": "2027-03-05"}]}
    assert (await own.put(url, json=mine)).status_code == 200
    assert (await own.get(url)).json()["periods"] == mine["periods"]
    kept = await api.pool.fetchval(
        "SELECT created_by->>'role' FROM examiner_away WHERE examiner_id = $1", ORTHO_1
    )
    assert kept == "ops"

    # Another examiner, an insurer: 403 whatever the id; nobody: 401; ops, an unknown id: 404.
    other = await api.as_role(Role.EXAMINER, examiner=ORTHO_2)
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    for http in (other, insurer):
        assert (await http.get(url)).status_code == 403
        assert (await http.put(url, json=mine)).status_code == 403
        assert (await http.get("/v1/examiners/ex-nobody/away")).status_code == 403
    assert (await own.put("/v1/examiners/ex-nobody/away", json=mine)).status_code == 403
    assert (await api.client(None).get(url)).status_code == 401
    unknown = await ops.put("/v1/examiners/ex-nobody/away", json={"periods": "77777"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"

    # 422 naming the fields, never echoing a value; the list kept is unchanged.
    backwards = {"periods": [{"starts_on": "2031-07-19", "ends_on": "2031-07-13"}]}
    overlapping = {
        "periods": [
            {"starts_on": "2031-08-01", "ends_on": "2031-08-10"},
            {"starts_on": "2031-08-10", "ends_on": "2031-08-12"},
        ]
    }
    too_many = {"periods": [{"starts_on": "2031-09-01", "ends_on": "2031-09-01"}] * 101}
    for sent, field in (
        (backwards, "periods.0.ends_on"),
        (overlapping, "periods"),
        (too_many, "periods"),
        (
            {"periods": [{"starts_on": "2031-13-45", "ends_on": "2031-07-13"}]},
            "periods.0.starts_on",
        ),
    ):
        refused = await own.put(url, json=sent)
        assert refused.status_code == 422, sent
        error = refused.json()["error"]
        assert error["code"] == "invalid_input"
        assert [d["field"] for d in error["details"]] == [field]
        assert "2031" not in refused.text
    assert (await ops.get(url)).json()["periods"] == mine["periods"]
    # An empty list clears them.
    assert (await own.put(url, json={"periods": []})).json()["periods"] == []
    assert await api.pool.fetchval("SELECT count(*) FROM examiner_away") == 0


async def test_a_demo_claim_is_booked_around_an_absence_and_a_booking_made_is_a_conflict(
    api, api_client
):
    ops = api_client
    # DEMO books within minutes of now, in New York (the profile's timezone): away around today.
    today = datetime.now(ZoneInfo("America/New_York")).date()
    around = {
        "periods": [
            {
                "starts_on": (today - timedelta(days=1)).isoformat(),
                "ends_on": (today + timedelta(days=1)).isoformat(),
            }
        ]
    }
    put = await ops.put(f"/v1/examiners/{ORTHO_1}/away", json=around)
    assert put.status_code == 200 and put.json()["conflicts"] == []
    created = await ops.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    claim = await wait_until(ops, claim_id, lambda c: c["appointment"])
    # ORTHO_1 (least loaded, first by id) is away: the other orthopedic surgeon.
    assert claim["examiner"]["id"] == ORTHO_2

    # ORTHO_2 goes away now: the booking made is listed, not moved.
    answer = await ops.put(f"/v1/examiners/{ORTHO_2}/away", json=around)
    assert answer.status_code == 200
    assert answer.json()["conflicts"] == [claim_id]
    still = (await ops.get(f"/v1/claims/{claim_id}")).json()
    assert still["examiner"]["id"] == ORTHO_2
    assert still["appointment"]["id"] == claim["appointment"]["id"]
