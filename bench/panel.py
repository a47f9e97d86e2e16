"""The bench panel: examiners enough for every booking the bench holds open at once, so that
capacity is never what limits a measurement by accident.

`capacity` is how many open bookings (`appointments.status = 'booked'`) an examiner may hold at a
time (`store.panel.book`): a booking counts until the exam is recorded (attended or no-show), the
appointment is declined, released or rescheduled, or the claim is withdrawn. Each examiner's
booked appointments may not overlap in time (an exclusion constraint), and a booking takes the
examiner's first free slot: the n-th booking of one examiner tries the n - 1 slots before it
first. Many examiners with a small capacity therefore book faster than a few with a large one, so
the bench panel is wide: BENCH_CAPACITY_PER_EXAMINER bookings each, examiners enough for the
bench's bookings plus a quarter.

All the bench's referrals ask for an orthopaedic surgeon for a claimant in New York (the sample
referral's), and the DEMO and NY-WC profiles both need a New York licence.
"""

from __future__ import annotations

import math

from domain.models import Examiner, Specialty
from store.db import Executor
from store.panel import upsert_examiner

STATE = "NY"
SPECIALTY = Specialty.ORTHOPEDIC_SURGERY
CAPACITY_PER_EXAMINER = 10
HEADROOM = 1.25


def bench_panel(bookings: int, capacity: int = CAPACITY_PER_EXAMINER) -> list[Examiner]:
    """Examiners for `bookings` open bookings at once, with headroom."""
    count = math.ceil(bookings * HEADROOM / capacity)
    return [
        Examiner(
            id=f"ex-bench-{STATE.lower()}-{n + 1}",
            name=f"Dr. Bench Examiner {n + 1} ({STATE})",
            # 10 digits, outside the seeded panel's 19... range and the sample's treating NPI.
            npi=f"18{n:08d}",
            specialty=SPECIALTY,
            licensed_states=[STATE],
            capacity=capacity,
            location=f"Albany, NY bench office {n + 1}",
            email=f"ex-bench-{n + 1}@examiners.example.org",
        )
        for n in range(count)
    ]


async def seed_bench_panel(conn: Executor, bookings: int, capacity: int) -> tuple[int, int]:
    """Add the bench panel; returns (examiners, total capacity)."""
    panel = bench_panel(bookings, capacity)
    for examiner in panel:
        await upsert_examiner(conn, examiner)
    return len(panel), sum(e.capacity for e in panel)
