"""A CA-QME panel of three orthopedic surgeons for the tests of the state's pick: the seeded
panel has two per specialty and state, so a third is added (a panel's QMEs share the requested
specialty; 8 CCR 31.5 replaces a panel whose QME does not practise it)."""

from __future__ import annotations

import asyncpg

from domain.models import Examiner
from store.panel import upsert_examiner
from store.seed import seed_panel

CA_1, CA_2, CA_3 = (f"ex-ca-orthopedic-surgery-{n}" for n in (1, 2, 3))
PANEL = [CA_1, CA_2, CA_3]


async def add_third_ca_orthopedist(pool: asyncpg.Pool) -> None:
    third = Examiner.model_validate(
        {
            **seed_panel()[0].model_dump(),
            "id": CA_3,
            "name": "Dr. Third Orthopedic (CA)",
            "npi": "1999999031",
            "specialty": "orthopedic_surgery",
            "licensed_states": ["CA"],
            "location": "Sacramento, CA examination office 3",
            "email": None,
        }
    )
    async with pool.acquire() as conn:
        await upsert_examiner(conn, third)
