"""Jurisdiction profiles, loaded from `jurisdictions.toml` (rules are data, not code branches)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DurationUnit = Literal["seconds", "minutes", "hours", "days", "business_days"]


class Duration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(ge=0)
    unit: DurationUnit

    def as_timedelta(self) -> timedelta:
        """Calendar length; business days need a calendar (see activities.deadlines)."""
        if self.unit == "business_days":
            raise ValueError("business days depend on a holiday calendar")
        return timedelta(**{self.unit: self.amount})


class JurisdictionProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    licence_state: str
    notice_lead: Duration
    report_due: Duration
    review_sla: Duration
    decision_due: Duration
    decision_extensions: int = 0
    decision_extension: Duration = Duration(amount=30, unit="days")
    confirm_due: Duration
    exam_duration: Duration
    exam_grace: Duration
    escalation_grace: Duration
    safety_ack: Duration
    scheduling_retry: Duration
    reminder_fraction: float = Field(gt=0, lt=1)
    max_no_shows: int = Field(ge=0)
    max_addenda: int = Field(ge=0)
    business_hours: bool
    timezone: str
    claimant_gets_report: Literal["same_day", "yes", "no", "on_request"]
    sources: list[str]
    # How long a notification is retried before it is dead-lettered (and ops told). Optional so
    # that profiles recorded in older histories still decode.
    delivery_retry: Duration = Duration(amount=24, unit="hours")

    def examiner_licence_state(self, claimant_state: str) -> str:
        return self.licence_state or claimant_state


def _load(path: Path) -> dict[str, JurisdictionProfile]:
    raw = tomllib.loads(path.read_text())
    defaults = raw["defaults"]
    return {
        name: JurisdictionProfile(name=name, **{**defaults, **values})
        for name, values in raw["profiles"].items()
    }


PROFILES: dict[str, JurisdictionProfile] = _load(Path(__file__).with_name("jurisdictions.toml"))


def get_profile(name: str) -> JurisdictionProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown jurisdiction profile: {name}") from None
