"""The seeded examiner panel: examiners of every specialty in every profile's state (two each by
default; the dev stack seeds more, so that its demo and a newcomer's claims never exhaust it).

How a booking picks from it (PRODUCT §3): an examiner holds the specialty, is licensed in the
state, is active, is not off this claim (declined, let a booking lapse, replaced), has no
conflict (does not treat the claimant, has not examined them and is not booked to on another
claim) and has capacity (open bookings below `capacity`); the least loaded is booked first.
"""

from __future__ import annotations

from domain.models import Examiner, Specialty
from store.db import Executor
from store.panel import upsert_examiner

SEED_STATES = {
    "NY": "Albany, NY",
    "CA": "Sacramento, CA",
    "TX": "Austin, TX",
    "FL": "Tallahassee, FL",
    "PA": "Harrisburg, PA",
}
_SURNAMES = ["Avery", "Brooks", "Chen", "Diaz", "Ekwueme", "Fischer", "Gupta", "Haddad"]
# Examiners per specialty per state: the tests' panel, and the dev stack's.
DEFAULT_DEPTH = 2
DEV_DEPTH = len(_SURNAMES)


def seed_panel(depth: int = DEFAULT_DEPTH) -> list[Examiner]:
    examiners: list[Examiner] = []
    for s_index, (state, city) in enumerate(SEED_STATES.items()):
        for p_index, specialty in enumerate(Specialty):
            for n, surname in enumerate(_SURNAMES[:depth]):
                examiners.append(
                    Examiner(
                        id=f"ex-{state.lower()}-{specialty.value.replace('_', '-')}-{n + 1}",
                        name=f"Dr. {surname} {specialty.value.split('_')[0].title()} ({state})",
                        npi=f"19{s_index:02d}{p_index:02d}{n:04d}",
                        specialty=specialty,
                        licensed_states=[state],
                        capacity=50,
                        location=f"{city} examination office {n + 1}",
                        email=f"ex-{state.lower()}-{specialty.value.replace('_', '-')}-{n + 1}"
                        "@examiners.example.org",
                    )
                )
    return examiners


async def seed(conn: Executor, depth: int = DEFAULT_DEPTH) -> int:
    panel = seed_panel(depth)
    for examiner in panel:
        await upsert_examiner(conn, examiner)
    return len(panel)
