"""Jurisdiction profiles, loaded from `jurisdictions.toml` (rules are data, not code branches).

Every rule a profile sets carries the citation of the regulation it comes from, or is marked
`operational (...)` when it is a service knob rather than a legal requirement (review SLA, grace
periods, the confirmation window, DEMO's seconds-long waits).
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DurationUnit = Literal["seconds", "minutes", "hours", "days", "business_days"]

# Marks a rule that is a service choice, not a legal requirement.
OPERATIONAL = "operational"


class Duration(BaseModel):
    """A length of time. A negative amount counts backwards from its start (`before`): records
    due 3 business days before the exam is `records_lead.before()` from the exam start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int
    unit: DurationUnit

    def as_timedelta(self) -> timedelta:
        """Calendar length; business days need a calendar (see domain.deadlines)."""
        if self.unit == "business_days":
            raise ValueError("business days depend on a holiday calendar")
        return timedelta(**{self.unit: self.amount})

    def before(self) -> Duration:
        """The same length counted back from the start instead of forward."""
        return Duration(amount=-self.amount, unit=self.unit)


class ReasonCode(BaseModel):
    """A decision reason code of a profile: the outcome it explains and what it means in words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Literal["approved", "denied"]
    words: str


class JurisdictionProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    licence_state: str
    # Every rule field added after the first release is optional with a default: the profile a
    # claim started with is recorded in its history (load_profile) and must still decode.
    # Claimant notice at least this long before the exam (NY-WC). None: no notice lead.
    notice_lead: Duration | None = None
    # Report due after the exam. None (NY-NF): no report deadline of its own.
    report_due: Duration | None = None
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
    # The regulations the profile's rules cite (derived from `citations` when loaded).
    sources: list[str]
    # How long a notification is retried before it is dead-lettered (and ops told). Optional so
    # that profiles recorded in older histories still decode.
    delivery_retry: Duration = Duration(amount=24, unit="hours")
    # The exam must take place within this window from the referral (NY-NF, CA-QME).
    exam_within: Duration | None = None
    # The appointment must be set and noticed within this window from the referral (CA-QME).
    appointment_notice_within: Duration | None = None
    # Medical records must reach the examiner at least this long before the exam (TX-DD). Not a
    # claimant notice lead.
    records_lead: Duration | None = None
    # After the exam, all parties are notified of it within this window (FL-WC).
    exam_notice_within: Duration | None = None
    # When the decision clock starts: when the report is accepted, or when the claim was received
    # (NY-NF's proof of claim, ERISA's receipt of the claim), i.e. the referral.
    decision_from: Literal["report_accepted", "claim_received"] = "report_accepted"
    # The claimant's letters (delivery.mail). Whether the claimant may bring a person of their
    # choosing to the exam: the appointment notice tells them so only where a rule grants it.
    observer_allowed: bool = False
    # The claimant may appeal a denial within this window from receiving the decision letter;
    # None: the profile sets no appeal window of its own (the letter points to the contact).
    appeal_within: Duration | None = None
    # Where a denial may be appealed to the service (patch `denial-appeal`): the decision on
    # appeal is due this long after the appeal is received, and may be extended once by
    # `appeal_extension` (with the claimant told why, before the period ends). Without
    # `appeal_decision_due` the claim ends at the denial (the letter points to the contact).
    appeal_decision_due: Duration | None = None
    appeal_extension: Duration | None = None
    # What a denial letter must hold: "plain" (outcome, reason, contact) or "erisa" (the
    # content 29 CFR 2560.503-1(g)(1) requires of an adverse benefit determination).
    decision_letter: Literal["plain", "erisa"] = "plain"
    # How long after the claim closed its documents, report contents, clinical notes and the
    # claimant's contact are kept before the retention sweep destroys them (`domain.retention`);
    # calendar units only. None: never destroyed.
    retention: Duration | None = None
    # The claim types the profile's law governs (`ClaimType` values); a referral of another type
    # is refused at intake. Empty: any type (DEMO). Not a rule field: what a statute covers is
    # in its name (workers' compensation, no-fault, an ERISA plan).
    claim_types: tuple[str, ...] = ()
    # The codes a decision gives its reason with, and their words (for the claimant's letter).
    # Empty (profiles recorded before the list): any code, stated as a code.
    reason_codes: dict[str, ReasonCode] = {}

    # Who picks the examiner (`domain.selection`): the vendor (the least-loaded eligible
    # examiner), or the state: a panel of three struck by represented parties or chosen from by
    # an unrepresented claimant (CA-QME), or one examiner assigned (TX-DD, PA-IRE).
    selection: Literal["vendor", "state_panel_strike", "state_assigned"] = "vendor"
    # The state issues its panel or assignment within this, from the referral (or from ops being
    # asked for a replacement); past it, ops chase it (an escalation rung, re-raised).
    state_issue_within: Duration | None = None
    # A panel's strikes (represented) or the claimant's choice (unrepresented) within this, from
    # the panel's issue; a party that lets it pass loses its strike (or choice).
    selection_window: Duration | None = None

    # Rule field -> the citation of the rule it comes from, or "operational (...)".
    citations: dict[str, str] = {}

    @model_validator(mode="after")
    def _durations_are_lengths(self) -> JurisdictionProfile:
        # A profile states lengths; which way a window runs is the rule's, not the data's.
        for field in type(self).model_fields:
            value = getattr(self, field)
            if isinstance(value, Duration) and value.amount < 0:
                raise ValueError(f"{field} must not be negative")
        if self.retention is not None and self.retention.unit == "business_days":
            raise ValueError("retention is counted in calendar units")
        if self.selection != "vendor" and self.state_issue_within is None:
            raise ValueError("a state selection needs state_issue_within")
        if self.appeal_decision_due is not None and self.appeal_within is None:
            raise ValueError("appeal_decision_due needs the appeal's window, appeal_within")
        if (self.selection == "state_panel_strike") != (self.selection_window is not None):
            raise ValueError("selection_window is the window of a state panel, and only of one")
        return self

    def examiner_licence_state(self, claimant_state: str) -> str:
        return self.licence_state or claimant_state

    def rules_in_effect(self) -> list[str]:
        """The rule fields this profile sets (each needs a citation)."""
        return [field for field in RULE_FIELDS if _in_effect(getattr(self, field), field)]

    def reason_codes_for(self, outcome: str) -> list[str]:
        """The codes a decision with `outcome` may give (sorted)."""
        codes = self.reason_codes.items()
        return sorted(code for code, reason in codes if reason.outcome == outcome)

    @property
    def grants_appeal(self) -> bool:
        """A denial may be appealed to the service, with its own review and clock."""
        return self.appeal_within is not None and self.appeal_decision_due is not None

    def uncited_rules(self) -> list[str]:
        return [field for field in self.rules_in_effect() if not self.citations.get(field)]


# Fields that state a rule of the claim's process. Each one a profile sets needs a citation;
# the rest (exam length, retry intervals, time zone, ...) are engineering settings.
RULE_FIELDS: tuple[str, ...] = (
    "notice_lead",
    "appointment_notice_within",
    "exam_within",
    "records_lead",
    "exam_notice_within",
    "report_due",
    "review_sla",
    "decision_due",
    "decision_extensions",
    "claimant_gets_report",
    "observer_allowed",
    "appeal_within",
    "appeal_decision_due",
    "decision_letter",
    "max_no_shows",
    "max_addenda",
    "confirm_due",
    "exam_grace",
    "escalation_grace",
    "safety_ack",
    "retention",
    "selection",
    "state_issue_within",
    "selection_window",
)
# A citation covers these companion fields too: a profile that changes a companion must cite
# the rule itself (NY-NF's decision clock starting at the claim is part of its decision rule).
_COMPANIONS = {
    "decision_due": ("decision_from",),
    "decision_extensions": ("decision_extension",),
    "appeal_decision_due": ("appeal_extension",),
}


def _in_effect(value: object, field: str) -> bool:
    if field in ("decision_extensions", "observer_allowed"):
        return bool(value)
    if field == "decision_letter":
        return value != "plain"
    if field == "selection":
        return value != "vendor"
    return value is not None


def is_regulation(citation: str) -> bool:
    return bool(citation) and not citation.startswith(OPERATIONAL)


def _citations(defaults: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
    """The profile's own citations, plus the defaults' for rules whose value it inherits: a
    citation belongs to a value, so a profile that overrides a rule must cite it itself."""
    own: dict[str, str] = values.get("citations", {})
    inherited: dict[str, str] = defaults.get("citations", {})
    overridden = {
        field
        for field in RULE_FIELDS
        if field in values or any(c in values for c in _COMPANIONS.get(field, ()))
    }
    cited = {f: c for f, c in inherited.items() if f not in overridden}
    return cited | own


def _sources(citations: dict[str, str]) -> list[str]:
    """Every regulation cited, once, in rule order; `;` separates several in one citation."""
    sources: list[str] = []
    for field in RULE_FIELDS:
        citation = citations.get(field, "")
        if not is_regulation(citation):
            continue
        for source in (s.strip() for s in citation.split(";")):
            if source and source not in sources:
                sources.append(source)
    return sources


def _build(name: str, defaults: dict[str, Any], values: dict[str, Any]) -> JurisdictionProfile:
    citations = _citations(defaults, values)
    fields = {k: v for k, v in defaults.items() if k != "citations"}
    fields |= {k: v for k, v in values.items() if k != "citations"}
    profile = JurisdictionProfile(
        name=name, citations=citations, sources=_sources(citations), **fields
    )
    # Checked here, when the toml is loaded, not in a model validator: a profile recorded in an
    # older history (no citations, or fewer rule fields) must keep decoding.
    problems = [f"{field}: no citation" for field in profile.uncited_rules()]
    problems += [
        f"{field}: cited but not set"
        for field in citations
        if field not in profile.rules_in_effect()
    ]
    if problems:
        raise ValueError(f"jurisdiction profile {name}: " + ", ".join(problems))
    return profile


def load_profiles(path: Path) -> dict[str, JurisdictionProfile]:
    raw = tomllib.loads(path.read_text())
    defaults = raw["defaults"]
    return {name: _build(name, defaults, values) for name, values in raw["profiles"].items()}


PROFILES: dict[str, JurisdictionProfile] = load_profiles(
    Path(__file__).with_name("jurisdictions.toml")
)


def get_profile(name: str) -> JurisdictionProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown jurisdiction profile: {name}") from None
