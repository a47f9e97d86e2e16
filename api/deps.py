"""Request dependencies: the claim service and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg
from fastapi import Request

from claim_service import ClaimService

Role = Literal["ops", "insurer", "examiner", "reviewer", "clinician", "sre"]


@dataclass(frozen=True)
class Principal:
    role: Role
    insurer_id: str | None = None
    examiner_id: str | None = None


def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def claim_service(request: Request) -> ClaimService:
    return request.app.state.claims


def principal(request: Request) -> Principal:
    """Who is calling. Until API keys are enforced every caller acts as operations; routes already
    depend on this so scoping slots in without touching them."""
    return Principal(role="ops")
