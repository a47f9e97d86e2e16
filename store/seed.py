"""The seeded examiner panel: two examiners per specialty in every profile's state."""

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
_SURNAMES = ["Avery", "Brooks"]


def seed_panel() -> list[Examiner]:
    examiners: list[Examiner] = []
    for s_index, (state, city) in enumerate(SEED_STATES.items()):
        for p_index, specialty in enumerate(Specialty):
            for n, surname in enumerate(_SURNAMES):
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


async def seed(conn: Executor) -> int:
    panel = seed_panel()
    for examiner in panel:
        await upsert_examiner(conn, examiner)
    return len(panel)
