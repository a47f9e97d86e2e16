"""Examiner panel and appointment booking."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from domain.deadlines import business_slots
from domain.models import (
    AppointmentRef,
    AwayPeriod,
    Caller,
    ClaimStatus,
    Examiner,
    ExaminerRef,
    ExaminerSearch,
    ExaminerWithLoad,
    PassedOver,
    ScheduleRequest,
)
from domain.names import AppointmentStatus, PassOverRule, Stage, Template
from domain.profiles import PROFILES
from store.db import Connection, Executor

# How far ahead the slot search looks before giving up on an examiner.
_MAX_SLOTS_PER_EXAMINER = 400

# The examiner's load: the open bookings their capacity bounds.
_OPEN_BOOKINGS = """SELECT count(*) FROM appointments a
                      WHERE a.examiner_id = e.id AND a.status = 'booked'"""

# The conflict rule's second half (NY 12 NYCRR 300.2(a): never an examiner who examined the
# claimant): the examiner examined this claimant, or is booked to, on another claim. A booking
# that was cancelled, lapsed or ended in a no-show examined nobody. ($5 claimant key, $6 claim.)
_EXAMINED_ELSEWHERE = """SELECT 1 FROM appointments a
                             WHERE a.examiner_id = e.id AND a.claimant_key = $5
                               AND a.claim_id <> $6 AND a.status IN ('booked', 'attended')"""


@dataclass(frozen=True)
class BookingFacts:
    """What an examiner is checked against for a claim (kept at intake): the specialty asked for,
    the licence state, the treating providers; with the claimant's keyed hash (conflicts)."""

    specialty: str
    licence_state: str
    treating_npis: list[str]
    claimant_key: str | None = None


@dataclass(frozen=True)
class OpenBooking:
    """An examiner's booked appointment and its claim's stage (None: no projection row)."""

    appointment_id: str
    claim_id: str
    starts_at: datetime
    stage: Stage | None


_INSERT_EXAMINER = """INSERT INTO examiners
    (id, name, npi, specialty, licensed_states, active, capacity, location, email)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""


def _examiner_values(examiner: Examiner) -> tuple:
    return (
        examiner.id,
        examiner.name,
        examiner.npi,
        examiner.specialty.value,
        examiner.licensed_states,
        examiner.active,
        examiner.capacity,
        examiner.location,
        examiner.email,
    )


async def upsert_examiner(conn: Executor, examiner: Examiner) -> None:
    await conn.execute(
        _INSERT_EXAMINER
        + """ ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, npi = EXCLUDED.npi,
               specialty = EXCLUDED.specialty, licensed_states = EXCLUDED.licensed_states,
               active = EXCLUDED.active, capacity = EXCLUDED.capacity,
               location = EXCLUDED.location, email = EXCLUDED.email""",
        *_examiner_values(examiner),
    )


async def list_examiners(conn: Executor) -> list[Examiner]:
    rows = await conn.fetch(
        "SELECT id, name, npi, specialty, licensed_states, active, capacity, location, email"
        " FROM examiners ORDER BY id"
    )
    return [Examiner.model_validate(dict(r)) for r in rows]


async def eligible_examiners(
    conn: Connection, req: ScheduleRequest, claimant_key: str
) -> list[asyncpg.Record]:
    """Examiners with the specialty and licence, active, with capacity and without a conflict,
    least loaded first."""
    return await conn.fetch(
        f"""SELECT e.id, e.name, e.specialty, e.location
           FROM examiners e
           WHERE e.active
             AND e.specialty = $1
             AND $2 = ANY (e.licensed_states)
             AND NOT (e.id = ANY ($3::text[]))
             AND ($7::text IS NULL OR e.id = $7)
             AND NOT (e.npi = ANY ($4::text[]))
             AND NOT EXISTS ({_EXAMINED_ELSEWHERE})
             AND ({_OPEN_BOOKINGS}) < e.capacity
           ORDER BY ({_OPEN_BOOKINGS}), e.id""",
        req.specialty.value,
        req.licence_state,
        req.exclude_examiner_ids,
        req.treating_provider_npis,
        claimant_key,
        req.claim_id,
        req.only_examiner_id,
    )


async def search(
    conn: Connection, req: ScheduleRequest, claimant_key: str, *, at: datetime
) -> ExaminerSearch:
    """Why `book` found no examiner: every examiner of the requested specialty (or the one ops
    chose) with the first rule, in `PassOverRule`'s order, that excluded them, and how many
    lack the specialty. Eligible examiners left over had no free slot in the exam window."""
    rows = await conn.fetch(
        f"""SELECT e.id,
                  CASE
                    WHEN e.specialty <> $1 THEN 'specialty'
                    WHEN NOT e.active THEN 'inactive'
                    WHEN NOT ($2 = ANY (e.licensed_states)) THEN 'licence'
                    WHEN e.id = ANY ($3::text[]) THEN 'off_this_claim'
                    WHEN e.npi = ANY ($4::text[]) OR EXISTS ({_EXAMINED_ELSEWHERE})
                      THEN 'conflict'
                    WHEN ({_OPEN_BOOKINGS}) >= e.capacity THEN 'capacity'
                    ELSE 'no_slot'
                  END AS rule
           FROM examiners e
           WHERE ($7::text IS NULL AND e.specialty = $1) OR e.id = $7
           ORDER BY e.id""",
        req.specialty.value,
        req.licence_state,
        req.exclude_examiner_ids,
        req.treating_provider_npis,
        claimant_key,
        req.claim_id,
        req.only_examiner_id,
    )
    rules = {r["id"]: PassOverRule(r["rule"]) for r in rows}
    without = 0
    if req.only_examiner_id is None:
        without = await conn.fetchval(
            "SELECT count(*) FROM examiners WHERE specialty <> $1", req.specialty.value
        )
        # Away on every slot the booking could offer: absence alone kept them off. (Not for
        # ops' own pick: the workflow words its refusal from the rules up to `no_slot`, and
        # workflow code is frozen; `no_slot` is true there too.)
        eligible = [i for i, rule in rules.items() if rule is PassOverRule.NO_SLOT]
        away = await away_periods(conn, eligible)
        if away:
            slots = _window(req)
            zone = ZoneInfo(req.timezone)
            duration = timedelta(seconds=req.duration_seconds)
            for examiner_id, periods in away.items():
                if slots and all(_touches(s, s + duration, periods, zone) for s in slots):
                    rules[examiner_id] = PassOverRule.AWAY
    return ExaminerSearch(
        searched_at=at,
        passed_over=[PassedOver(examiner_id=i, rule=rule) for i, rule in rules.items()],
        without_specialty=without,
    )


async def choices(conn: Connection, claim_id: str, facts: BookingFacts) -> list[PassedOver]:
    """Every examiner with the first rule of `search` that excludes them from the claim (for any
    specialty: ops may pick outside the one asked for, which `search` names `specialty`)."""
    rows = await conn.fetch(
        f"""SELECT e.id,
                  CASE
                    WHEN NOT e.active THEN 'inactive'
                    WHEN NOT ($2 = ANY (e.licensed_states)) THEN 'licence'
                    WHEN e.npi = ANY ($4::text[]) OR EXISTS ({_EXAMINED_ELSEWHERE})
                      THEN 'conflict'
                    WHEN ({_OPEN_BOOKINGS}) >= e.capacity THEN 'capacity'
                    WHEN e.specialty <> $1 THEN 'specialty'
                    ELSE 'no_slot'
                  END AS rule
           FROM examiners e
           -- ($3 and $7 are `search`'s exclusions and pick, which ops' choice has none of.)
           WHERE $3::text[] IS NOT NULL AND $7::text IS NULL
           ORDER BY e.id""",
        facts.specialty,
        facts.licence_state,
        [],
        facts.treating_npis,
        facts.claimant_key,
        claim_id,
        None,
    )
    return [PassedOver(examiner_id=r["id"], rule=PassOverRule(r["rule"])) for r in rows]


def _candidate_starts(req: ScheduleRequest) -> Iterator[datetime]:
    duration = timedelta(seconds=req.duration_seconds)
    if req.business_hours:
        return business_slots(
            req.earliest_start, state=req.licence_state, tz=req.timezone, slot=duration
        )
    return (req.earliest_start + i * duration for i in range(_MAX_SLOTS_PER_EXAMINER))


def _window(req: ScheduleRequest) -> list[datetime]:
    """Every start `book` may try with an examiner: up to its horizon, none past the window."""
    found = []
    for n, starts_at in enumerate(_candidate_starts(req)):
        if n >= _MAX_SLOTS_PER_EXAMINER:
            break
        if req.latest_start is not None and starts_at > req.latest_start:
            break
        found.append(starts_at)
    return found


def _touches(
    starts_at: datetime, ends_at: datetime, periods: Iterable[AwayPeriod], zone: ZoneInfo
) -> bool:
    """Whether an appointment falls, even in part, on an away day: its first and last instant
    read as dates in `zone` (the booking's timezone, the claim's profile's)."""
    first = starts_at.astimezone(zone).date()
    last = (ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    return any(p.starts_on <= last and first <= p.ends_on for p in periods)


async def book(
    conn: Connection, req: ScheduleRequest, claimant_key: str
) -> tuple[ExaminerRef, AppointmentRef] | None:
    """Book the first free slot with the best eligible examiner; idempotent per (claim, attempt)."""
    # A reset claim's attempts are its lineage's own (`store.lineage`).
    suffix = f"@{req.lineage}" if req.lineage else ""
    appointment_id = f"{req.claim_id}:{req.attempt}{suffix}"
    existing = await conn.fetchrow(
        """SELECT a.id, a.starts_at, a.ends_at, a.location, e.id AS examiner_id, e.name, e.specialty
           FROM appointments a JOIN examiners e ON e.id = a.examiner_id WHERE a.id = $1""",
        appointment_id,
    )
    if existing is not None:
        return _refs(dict(existing), dict(existing))

    duration = timedelta(seconds=req.duration_seconds)
    examiners = await eligible_examiners(conn, req, claimant_key)
    away = await away_periods(conn, [e["id"] for e in examiners])
    zone = ZoneInfo(req.timezone)
    for examiner in examiners:
        periods = away.get(examiner["id"], [])
        for n, starts_at in enumerate(_candidate_starts(req)):
            if n >= _MAX_SLOTS_PER_EXAMINER:
                break
            if req.latest_start is not None and starts_at > req.latest_start:
                break  # past the profile's exam window: this examiner cannot make it
            if periods and _touches(starts_at, starts_at + duration, periods, zone):
                continue  # away that day: a later slot of theirs, or the next examiner
            try:
                async with conn.transaction():
                    # Serialise bookings per examiner so concurrent claims cannot overrun capacity.
                    free = await conn.fetchval(
                        """SELECT e.capacity > (SELECT count(*) FROM appointments a
                                                WHERE a.examiner_id = e.id AND a.status = 'booked')
                           FROM examiners e WHERE e.id = $1 FOR UPDATE""",
                        examiner["id"],
                    )
                    if not free:
                        break
                    row = await conn.fetchrow(
                        """INSERT INTO appointments
                               (id, claim_id, attempt, examiner_id, claimant_key,
                                starts_at, ends_at, location)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                           RETURNING id, starts_at, ends_at, location""",
                        appointment_id,
                        req.claim_id,
                        req.attempt,
                        examiner["id"],
                        claimant_key,
                        starts_at,
                        starts_at + duration,
                        examiner["location"],
                    )
            except asyncpg.ExclusionViolationError:
                continue  # slot taken: the database, not this loop, guarantees no double booking
            assert row is not None  # INSERT ... RETURNING
            return _refs(dict(row), {**dict(examiner), "examiner_id": examiner["id"]})
    return None


def _refs(
    row: Mapping[str, Any], examiner: Mapping[str, Any]
) -> tuple[ExaminerRef, AppointmentRef]:
    return (
        ExaminerRef(
            id=examiner["examiner_id"], name=examiner["name"], specialty=examiner["specialty"]
        ),
        AppointmentRef(
            id=row["id"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            location=row["location"],
        ),
    )


async def set_appointment_status(conn: Executor, appointment_id: str, status: str) -> None:
    """Mark a booked appointment attended, no-show or cancelled. A cancelled one (declined,
    expired, its examiner replaced, ops assigning another, the claim withdrawn or closed) also
    closes its examiner's open `appointment_request` items for the claim: the request is no
    longer theirs to answer. One statement, so the two land together whatever `conn` is (a pool
    too), and in the caller's transaction when it has one."""
    await conn.execute(
        """WITH changed AS (
               UPDATE appointments SET status = $2 WHERE id = $1 AND status = 'booked'
           )
           UPDATE inbox_items SET done_at = now(), done_by = $4
           WHERE $2 = $5 AND kind = $3 AND done_at IS NULL
             AND (claim_id, examiner_id) =
                 (SELECT claim_id, examiner_id FROM appointments WHERE id = $1)""",
        appointment_id,
        status,
        Template.APPOINTMENT_REQUEST.value,
        {"by": "system", "reason": "appointment_cancelled"},
        AppointmentStatus.CANCELLED.value,
    )


async def align_bookings(conn: Connection, status: ClaimStatus) -> None:
    """The claim's bookings follow `status`: after an operator reset the claim's workflow
    (`store.lineage`), and when it closes (a booking whose result its run never saw, e.g. one
    cancelled mid-call, holds no capacity). Every booking of the claim but the appointment it
    still waits on (in SCHEDULING or EXAM) is released, and that one is booked again, unless
    its slot was given to someone else meanwhile (then the claim's own confirmation deadline
    deals with it)."""
    waiting = status.appointment if status.stage in (Stage.SCHEDULING, Stage.EXAM) else None
    keep = waiting.id if waiting else None
    others = await conn.fetch(
        "SELECT id FROM appointments WHERE claim_id = $1 AND status = 'booked'"
        " AND id IS DISTINCT FROM $2",
        status.claim_id,
        keep,
    )
    for row in others:
        await set_appointment_status(conn, row["id"], AppointmentStatus.CANCELLED)
    if keep is None:
        return
    try:
        async with conn.transaction():  # a savepoint: the slot may be taken
            await conn.execute(
                "UPDATE appointments SET status = 'booked' WHERE id = $1 AND status <> 'booked'",
                keep,
            )
    except asyncpg.ExclusionViolationError:
        pass


async def insert_examiner(conn: Executor, examiner: Examiner) -> bool:
    """Add an examiner; False when the id or the NPI is already on the panel."""
    try:
        await conn.execute(_INSERT_EXAMINER, *_examiner_values(examiner))
    except asyncpg.UniqueViolationError:
        return False
    return True


# --- the panel as ops manage it (`panel_service`) ------------------------------------------------

_WITH_LOAD = f"""SELECT e.id, e.name, e.npi, e.specialty, e.licensed_states, e.active, e.capacity,
                        e.location, e.email, ({_OPEN_BOOKINGS}) AS open_bookings
                 FROM examiners e"""

# What an edit may change, column by column (the keys of `ExaminerPatch.changes`).
_EDITABLE = ("name", "specialty", "licensed_states", "capacity", "location", "email", "active")


def _with_load(row: asyncpg.Record) -> ExaminerWithLoad:
    values = dict(row)
    values["load"] = round(values["open_bookings"] / values["capacity"], 4)
    return ExaminerWithLoad.model_validate(values)


async def list_with_load(conn: Executor) -> list[ExaminerWithLoad]:
    """The panel, each examiner with their open bookings (their load)."""
    return [_with_load(r) for r in await conn.fetch(_WITH_LOAD + " ORDER BY e.id")]


async def get_with_load(conn: Executor, examiner_id: str) -> ExaminerWithLoad | None:
    row = await conn.fetchrow(_WITH_LOAD + " WHERE e.id = $1", examiner_id)
    return _with_load(row) if row is not None else None


async def update_examiner(conn: Executor, examiner_id: str, changes: Mapping[str, Any]) -> bool:
    """Change the given fields of an examiner (a merge patch); False when there is no such
    examiner. Open bookings are untouched: they were made under the rules of their day."""
    columns = [c for c in _EDITABLE if c in changes]
    if not columns:
        return bool(await conn.fetchval("SELECT true FROM examiners WHERE id = $1", examiner_id))
    assignments = ", ".join(f"{c} = ${n}" for n, c in enumerate(columns, start=2))
    updated = await conn.fetchval(
        f"UPDATE examiners SET {assignments} WHERE id = $1 RETURNING id",
        examiner_id,
        *(changes[c] for c in columns),
    )
    return updated is not None


async def open_bookings(conn: Executor, examiner_id: str) -> list[OpenBooking]:
    """The examiner's open (`booked`) appointments, soonest first, with their claim's stage."""
    rows = await conn.fetch(
        """SELECT a.id, a.claim_id, a.starts_at, c.stage
           FROM appointments a LEFT JOIN claims c ON c.claim_id = a.claim_id
           WHERE a.examiner_id = $1 AND a.status = 'booked'
           ORDER BY a.starts_at, a.id""",
        examiner_id,
    )
    return [
        OpenBooking(
            appointment_id=r["id"],
            claim_id=r["claim_id"],
            starts_at=r["starts_at"],
            stage=Stage(r["stage"]) if r["stage"] else None,
        )
        for r in rows
    ]


async def claims_after_exam(conn: Executor, examiner_id: str) -> list[tuple[str, Stage]]:
    """Open claims the examiner examined and now writes the report of (REPORT) or may be asked an
    addendum of (REVIEW): a new booking is not theirs to take away."""
    rows = await conn.fetch(
        """SELECT claim_id, stage FROM claims
           WHERE examiner_id = $1 AND status = 'open' AND stage = ANY ($2::text[])
           ORDER BY claim_id""",
        examiner_id,
        [Stage.REPORT.value, Stage.REVIEW.value],
    )
    return [(r["claim_id"], Stage(r["stage"])) for r in rows]


# --- away periods (`panel_service.Panel.away`) ------------------------------------------------


async def away_periods(conn: Executor, examiner_ids: Sequence[str]) -> dict[str, list[AwayPeriod]]:
    """The away periods of each examiner given who has any, soonest first."""
    if not examiner_ids:
        return {}
    rows = await conn.fetch(
        """SELECT examiner_id, starts_on, ends_on FROM examiner_away
           WHERE examiner_id = ANY ($1::text[]) ORDER BY examiner_id, starts_on""",
        list(examiner_ids),
    )
    found: dict[str, list[AwayPeriod]] = {}
    for r in rows:
        period = AwayPeriod(starts_on=r["starts_on"], ends_on=r["ends_on"])
        found.setdefault(r["examiner_id"], []).append(period)
    return found


async def replace_away(
    conn: Connection, examiner_id: str, periods: Sequence[AwayPeriod], by: Caller
) -> bool:
    """Make `periods` the examiner's away list; False when there is no such examiner. A period
    kept as it was keeps its row (who set it, when); the others go, the new ones come."""
    async with conn.transaction():
        # One replacement at a time per examiner (two at once would each keep the other's out).
        if (
            await conn.fetchval("SELECT id FROM examiners WHERE id = $1 FOR UPDATE", examiner_id)
            is None
        ):
            return False
        starts = [p.starts_on for p in periods]
        ends = [p.ends_on for p in periods]
        await conn.execute(
            """DELETE FROM examiner_away a WHERE a.examiner_id = $1
                 AND (a.starts_on, a.ends_on) NOT IN
                     (SELECT * FROM unnest($2::date[], $3::date[]))""",
            examiner_id,
            starts,
            ends,
        )
        await conn.execute(
            """INSERT INTO examiner_away (examiner_id, starts_on, ends_on, created_by)
               SELECT $1, s, e, $4 FROM unnest($2::date[], $3::date[]) AS p (s, e)
               WHERE NOT EXISTS (SELECT 1 FROM examiner_away a WHERE a.examiner_id = $1
                                   AND a.starts_on = p.s AND a.ends_on = p.e)""",
            examiner_id,
            starts,
            ends,
            by.model_dump(mode="json", exclude_none=True),
        )
    return True


async def away_conflicts(
    conn: Executor, examiner_id: str, periods: Sequence[AwayPeriod]
) -> list[str]:
    """The claims with an open (`booked`) appointment of the examiner on one of their away days,
    each day read in the claim's profile timezone, as the booking does. Not moved: for ops."""
    if not periods:
        return []
    rows = await conn.fetch(
        """SELECT a.claim_id, a.starts_at, a.ends_at, c.jurisdiction
           FROM appointments a LEFT JOIN claims c ON c.claim_id = a.claim_id
           WHERE a.examiner_id = $1 AND a.status = 'booked'
             AND a.ends_at > $2::date - interval '1 day'
             AND a.starts_at < $3::date + interval '2 days'""",
        examiner_id,
        min(p.starts_on for p in periods),
        max(p.ends_on for p in periods),
    )
    found = set()
    for r in rows:
        profile = PROFILES.get(r["jurisdiction"] or "")
        zone = ZoneInfo(profile.timezone if profile else "UTC")
        if _touches(r["starts_at"], r["ends_at"], periods, zone):
            found.add(r["claim_id"])
    return sorted(found)
