"""`starter.py referral`: fresh sample referrals for trying the service by hand or in bulk.

Each one has a claim number and a made-up claimant of its own. A claimant's earlier exams make
an examiner ineligible for them (the conflict rule), so a walk that reused one claimant would
use up the examiners of its state and specialty; fresh claimants never do.
"""

from __future__ import annotations

import copy
import json
import secrets
from datetime import date, timedelta
from typing import Annotated, Any

import typer

from domain.examples import SAMPLE_REFERRAL
from domain.profiles import PROFILES
from store.seed import SEED_STATES

_GIVEN = ["Alex", "Blair", "Casey", "Dana", "Eden", "Frankie", "Gray", "Harper", "Jordan", "Kai"]
_FAMILY = ["Abbott", "Baker", "Cruz", "Dunn", "Ellis", "Flores", "Grant", "Hale", "Ito", "Jones"]
# Profiles that take the examiner's licence from the claimant's address (DEMO, ERISA-LTD) get a
# New York claimant: the seeded panel has examiners there.
_DEFAULT_STATE = "NY"


def fresh_referral(jurisdiction: str = "DEMO", insurer_id: str = "acme-ins") -> dict[str, Any]:
    """The sample referral (PRODUCT §6 shape) with a new claim number and a new claimant."""
    referral = copy.deepcopy(SAMPLE_REFERRAL)
    state = PROFILES[jurisdiction].licence_state or _DEFAULT_STATE
    city = SEED_STATES[state].split(",")[0]
    tag = secrets.token_hex(4)
    born = date(1950, 1, 1) + timedelta(days=secrets.randbelow(365 * 50))
    referral |= {
        "insurer_id": insurer_id,
        "claim_number": f"WC-{date.today().year}-{tag.upper()}",
        # The first claim type the profile serves (DEMO serves every type: workers' comp).
        "claim_type": next(iter(PROFILES[jurisdiction].claim_types), "workers_comp"),
        "jurisdiction": jurisdiction,
    }
    claimant = referral["claimant"]
    claimant |= {
        "full_name": f"{secrets.choice(_GIVEN)} {secrets.choice(_FAMILY)}-{tag}",
        "date_of_birth": born.isoformat(),
        "email": f"claimant-{tag}@example.org",
        "treating_provider_npis": [],
    }
    claimant["address"] |= {"city": city, "state": state}
    return referral


def referral(
    jurisdiction: Annotated[str, typer.Option(help=f"a profile: {', '.join(PROFILES)}")] = "DEMO",
    insurer: Annotated[str, typer.Option(help="the referring insurer's id")] = "acme-ins",
    count: Annotated[
        int, typer.Option(min=1, max=10_000, help="how many (more than one: JSON Lines)")
    ] = 1,
) -> None:
    """Print fresh sample referrals (JSON; one per line), each its own claimant and claim number:
    pipe one to POST /v1/claims, or save many as a file for `start --file`."""
    if jurisdiction not in PROFILES:
        raise typer.BadParameter(f"not a profile; one of {', '.join(PROFILES)}")
    for _ in range(count):
        print(json.dumps(fresh_referral(jurisdiction, insurer)))
