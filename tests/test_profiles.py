"""Jurisdiction profiles true to PRODUCT §3 and their sources: every deadline of every profile,
computed by the `compute_deadlines` activity (through the data converter, as a workflow sends
it) on the state's real holiday calendar, against dates counted by hand from the cited rule.

Counting (domain/deadlines.py): the day of the event is not counted; business days skip weekends
and the state's holidays and end at 17:00 in the profile's time zone; calendar days are exact
offsets from the instant and are not moved off weekends or holidays. From 1 Nov 2026 New York,
Florida and Pennsylvania are on EST (UTC-5), Texas on CST (UTC-6), California on PST (UTC-8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import ValidationError
from temporalio.testing import ActivityEnvironment

from activities import ClaimActivities
from domain.models import DeadlineRequest, DeadlineResult
from domain.profiles import (
    PROFILES,
    Duration,
    JurisdictionProfile,
    is_regulation,
    load_profiles,
)
from tests.helpers.config import TEST_CONVERTER, claim_activities

REAL_PROFILES = [name for name in PROFILES if name != "DEMO"]
M = TypeVar("M")


@dataclass(frozen=True)
class Events:
    """The moments a claim's rules count from."""

    referral: datetime  # claim received; the claimant's notice goes out when the exam is booked,
    # which the workflow does at once, so notice leads count from here too
    exam: datetime
    report_in: datetime
    accepted: datetime


@pytest.fixture
def activities(pool) -> ClaimActivities:
    return claim_activities(pool)


async def compute(
    activities: ClaimActivities,
    profile: JurisdictionProfile,
    state: str,
    start: datetime,
    durations: dict[str, Duration],
) -> dict[str, datetime]:
    request = DeadlineRequest(
        start=start, durations=durations, state=state, timezone=profile.timezone
    )
    # Across the data converter and the codec, as the workflow schedules the activity.
    sent = await over_the_wire(request, DeadlineRequest)
    result = await ActivityEnvironment().run(activities.compute_deadlines, sent)
    return (await over_the_wire(result, DeadlineResult)).due


async def over_the_wire(value: M, kind: type[M]) -> M:
    (decoded,) = await TEST_CONVERTER.decode(await TEST_CONVERTER.encode([value]), [kind])
    assert isinstance(decoded, kind)
    return decoded


async def deadlines(
    activities: ClaimActivities, profile: JurisdictionProfile, state: str, at: Events
) -> dict[str, datetime]:
    """Every timed rule the profile sets, each from the event its rule counts from."""
    p = profile
    decision_start = at.referral if p.decision_from == "claim_received" else at.accepted
    anchored: list[tuple[datetime, dict[str, Duration | None]]] = [
        (
            at.referral,
            {
                "notice_lead": p.notice_lead,
                "appointment_notice_within": p.appointment_notice_within,
                "exam_within": p.exam_within,
            },
        ),
        (at.exam, {"records_lead": p.records_lead.before() if p.records_lead else None}),
        (at.exam, {"exam_notice_within": p.exam_notice_within, "report_due": p.report_due}),
        (at.report_in, {"review_sla": p.review_sla}),
        (decision_start, {"decision_due": p.decision_due}),
    ]
    due: dict[str, datetime] = {}
    for start, rules in anchored:
        wanted = {name: d for name, d in rules.items() if d is not None}
        if wanted:
            due |= await compute(activities, profile, state, start, wanted)
    # Each extension adds its length to the decision deadline in force.
    for n in range(1, profile.decision_extensions + 1):
        previous = due["decision_due"] if n == 1 else due[f"decision_extension_{n - 1}"]
        key = f"decision_extension_{n}"
        due |= await compute(
            activities, profile, state, previous, {key: profile.decision_extension}
        )
    return due


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def test_ny_wc(activities):
    at = Events(
        referral=utc(2026, 11, 17, 15),  # Tue 10:00 EST
        exam=utc(2026, 12, 14, 15),  # Mon 10:00 EST
        report_in=utc(2026, 12, 23, 16),  # Wed 11:00 EST
        accepted=utc(2026, 12, 29, 20),  # Tue 15:00 EST
    )
    assert await deadlines(activities, PROFILES["NY-WC"], "NY", at) == {
        # 12 NYCRR 300.2(d)(1), notice >= 7 business days before the exam. From Tue 17 Nov:
        # Wed 18, Thu 19, Fri 20, Mon 23, Tue 24, Wed 25 (6), Thanksgiving Thu 26 skipped,
        # Fri 27 (7; a working day in New York) -> the exam from after 17:00 EST Fri 27 Nov.
        "notice_lead": utc(2026, 11, 27, 22),
        # 12 NYCRR 300.2(d)(11), 10 business days after the exam. From Mon 14 Dec: 15, 16, 17,
        # 18, 21, 22, 23, 24 (8), Christmas Fri 25 skipped, Mon 28 (9), Tue 29 (10) -> 17:00 EST.
        "report_due": utc(2026, 12, 29, 22),
        # Review SLA, 3 business days: Thu 24 Dec (1), Christmas skipped, Mon 28, Tue 29 (3).
        "review_sla": utc(2026, 12, 29, 22),
        # 30 days from acceptance Tue 29 Dec 20:00 UTC: 2 days to 31 Dec + 28 -> Thu 28 Jan.
        "decision_due": utc(2027, 1, 28, 20),
    }


async def test_ny_nf(activities):
    at = Events(
        referral=utc(2026, 11, 16, 15),  # Mon 10:00 EST: verification request = proof of claim
        exam=utc(2026, 11, 23, 15),  # Mon
        report_in=utc(2026, 11, 25, 16),  # Wed before Thanksgiving, 11:00 EST
        accepted=utc(2026, 11, 30, 16),
    )
    assert await deadlines(activities, PROFILES["NY-NF"], "NY", at) == {
        # 11 NYCRR 65-3.5(d), exam within 30 calendar days: Mon 16 Nov + 30 -> Wed 16 Dec.
        "exam_within": utc(2026, 12, 16, 15),
        # No notice lead, no report deadline of its own. Review SLA, 3 business days from
        # Wed 25 Nov: Thanksgiving skipped, Fri 27 (1; New York works it), Mon 30, Tue 1 Dec (3).
        "review_sla": utc(2026, 12, 1, 22),
        # 11 NYCRR 65-3.8(c), pay or deny within 30 calendar days of the proof of claim (the
        # referral, not the report's acceptance): Mon 16 Nov + 30 -> Wed 16 Dec.
        "decision_due": utc(2026, 12, 16, 15),
    }


async def test_ca_qme(activities):
    at = Events(
        referral=utc(2026, 11, 23, 18),  # Mon 10:00 PST
        exam=utc(2026, 12, 1, 17),  # Tue 09:00 PST
        report_in=utc(2026, 12, 23, 20),  # Wed 12:00 PST
        accepted=utc(2026, 12, 28, 20),  # Mon 12:00 PST
    )
    assert await deadlines(activities, PROFILES["CA-QME"], "CA", at) == {
        # 8 CCR 34(a), appointment noticed within 5 business days. From Mon 23 Nov: Tue 24,
        # Wed 25 (2), Thanksgiving Thu 26 and the day after (a California holiday) skipped, the
        # weekend, Mon 30 (3), Tue 1 Dec (4), Wed 2 Dec (5) -> 17:00 PST = 01:00 UTC Thu.
        "appointment_notice_within": utc(2026, 12, 3, 1),
        # 8 CCR 31.3(e), exam within 90 days of the request: 7 days to 30 Nov, 31 to 31 Dec,
        # 31 to 31 Jan, 21 more -> Sun 21 Feb 2027 (a Sunday, kept: never later than the rule).
        "exam_within": utc(2027, 2, 21, 18),
        # 8 CCR 38(a), report within 30 days of the exam: Tue 1 Dec + 30 -> Thu 31 Dec.
        "report_due": utc(2026, 12, 31, 17),
        # Review SLA, 3 business days from Wed 23 Dec: Thu 24 (1), Christmas skipped, Mon 28,
        # Tue 29 (3) -> 17:00 PST = 01:00 UTC Wed 30 Dec.
        "review_sla": utc(2026, 12, 30, 1),
        # 30 days from acceptance Mon 28 Dec: 3 days to 31 Dec + 27 -> Wed 27 Jan.
        "decision_due": utc(2027, 1, 27, 20),
    }


async def test_tx_dd(activities):
    profile = PROFILES["TX-DD"]
    at = Events(
        referral=utc(2026, 11, 23, 16),
        exam=utc(2026, 12, 28, 16),  # Mon 10:00 CST
        report_in=utc(2026, 12, 30, 18),  # Wed 12:00 CST
        accepted=utc(2027, 1, 5, 18),  # Tue
    )
    assert await deadlines(activities, profile, "TX", at) == {
        # 28 TAC 127.10(a)(3), records at the doctor >= 3 working days before the exam. Back
        # from Mon 28 Dec: the weekend (Sat 26 is also a Texas holiday), Christmas Fri 25 and
        # Christmas Eve Thu 24 (Texas holidays) skipped, Wed 23 (1), Tue 22 (2), Mon 21 (3)
        # -> by 17:00 CST Mon 21 Dec.
        "records_lead": utc(2026, 12, 21, 23),
        # 28 TAC 127.10, report within 7 working days. From Mon 28 Dec: Tue 29, Wed 30, Thu 31
        # (3), New Year's Day skipped, Mon 4, Tue 5, Wed 6, Thu 7 Jan (7) -> 17:00 CST.
        "report_due": utc(2027, 1, 7, 23),
        # Review SLA from Wed 30 Dec: Thu 31 (1), New Year's Day skipped, Mon 4, Tue 5 Jan (3).
        "review_sla": utc(2027, 1, 5, 23),
        # 30 days from acceptance Tue 5 Jan -> Thu 4 Feb.
        "decision_due": utc(2027, 2, 4, 18),
    }
    # An exam right after Thanksgiving: back from Mon 30 Nov, the weekend, the day after
    # Thanksgiving (a Texas holiday) and Thanksgiving skipped, Wed 25 (1), Tue 24 (2),
    # Mon 23 (3) -> records by 17:00 CST Mon 23 Nov.
    after_thanksgiving = utc(2026, 11, 30, 15)
    assert profile.records_lead is not None
    records = await compute(
        activities, profile, "TX", after_thanksgiving, {"records": profile.records_lead.before()}
    )
    assert records == {"records": utc(2026, 11, 23, 23)}


async def test_fl_wc(activities):
    at = Events(
        referral=utc(2026, 11, 9, 15),
        exam=utc(2026, 11, 25, 15),  # Wed before Thanksgiving, 10:00 EST
        report_in=utc(2026, 11, 25, 20),  # the same afternoon, 15:00 EST
        accepted=utc(2026, 12, 3, 16),  # Thu
    )
    assert await deadlines(activities, PROFILES["FL-WC"], "FL", at) == {
        # Fla. Stat. 440.13(5)(a), all parties notified within 15 days after the exam:
        # Wed 25 Nov + 15 -> Thu 10 Dec (Thanksgiving and the day after count as days).
        "exam_notice_within": utc(2026, 12, 10, 15),
        # Report within 15 days (vendor SLA matching the notice): Thu 10 Dec.
        "report_due": utc(2026, 12, 10, 15),
        # Review SLA from Wed 25 Nov: Thanksgiving and the day after (Florida holidays) and the
        # weekend skipped, Mon 30 (1), Tue 1 Dec (2), Wed 2 Dec (3) -> 17:00 EST.
        "review_sla": utc(2026, 12, 2, 22),
        # 30 days from acceptance Thu 3 Dec: 28 days to 31 Dec + 2 -> Sat 2 Jan (kept).
        "decision_due": utc(2027, 1, 2, 16),
    }


async def test_pa_ire(activities):
    at = Events(
        referral=utc(2026, 11, 2, 15),
        exam=utc(2026, 11, 20, 15),  # Fri 10:00 EST
        report_in=utc(2026, 11, 25, 17),  # Wed before Thanksgiving
        accepted=utc(2026, 12, 2, 17),  # Wed
    )
    assert await deadlines(activities, PROFILES["PA-IRE"], "PA", at) == {
        # 34 Pa. Code 123.105(c), report to the employee, insurer and Department within 30
        # days of the evaluation: Fri 20 Nov + 30 -> Sun 20 Dec (kept). No notice lead.
        "report_due": utc(2026, 12, 20, 15),
        # Review SLA from Wed 25 Nov: Thanksgiving and the day after (Pennsylvania holidays)
        # and the weekend skipped, Mon 30 (1), Tue 1 Dec (2), Wed 2 Dec (3) -> 17:00 EST.
        "review_sla": utc(2026, 12, 2, 22),
        # 30 days from acceptance Wed 2 Dec: 29 days to 31 Dec + 1 -> Fri 1 Jan (a holiday, kept).
        "decision_due": utc(2027, 1, 1, 17),
    }


async def test_erisa_ltd(activities):
    at = Events(
        referral=utc(2026, 11, 16, 15),  # Mon 10:00 EST: the plan receives the claim
        exam=utc(2026, 12, 4, 15),  # Fri
        report_in=utc(2026, 12, 23, 16),  # Wed
        accepted=utc(2026, 12, 28, 16),
    )
    # The examiner is licensed in, and the calendar is, the claimant's state (here Florida).
    assert await deadlines(activities, PROFILES["ERISA-LTD"], "FL", at) == {
        # Report within 21 days (vendor SLA): Fri 4 Dec + 21 -> Fri 25 Dec (Christmas, kept).
        "report_due": utc(2026, 12, 25, 15),
        # Review SLA from Wed 23 Dec: Thu 24 (1), Christmas skipped, Mon 28, Tue 29 (3).
        "review_sla": utc(2026, 12, 29, 22),
        # 29 CFR 2560.503-1(f)(3): decided within 45 days of receipt of the claim (not of the
        # report): 14 days to 30 Nov + 31 -> Thu 31 Dec.
        "decision_due": utc(2026, 12, 31, 15),
        # ... extended by up to 30 days, twice: Sat 30 Jan, then 1 day to 31 Jan + 28 (Feb
        # 2027) + 1 -> Mon 1 Mar.
        "decision_extension_1": utc(2027, 1, 30, 15),
        "decision_extension_2": utc(2027, 3, 1, 15),
    }


async def test_demo_waits_are_seconds(activities):
    at = Events(
        referral=utc(2026, 11, 26, 12),  # Thanksgiving: no calendar in seconds
        exam=utc(2026, 11, 26, 12, 1),
        report_in=utc(2026, 11, 26, 12, 1, 10),
        accepted=utc(2026, 11, 26, 12, 1, 30),
    )
    assert await deadlines(activities, PROFILES["DEMO"], "NY", at) == {
        "notice_lead": utc(2026, 11, 26, 12, 0, 5),
        "report_due": utc(2026, 11, 26, 12, 1, 20),
        "review_sla": utc(2026, 11, 26, 12, 1, 20),
        "decision_due": utc(2026, 11, 26, 12, 2, 0),
    }


# What PRODUCT §3 says each profile's rules come from, rule by rule.
REGULATED = {
    "NY-WC": {
        "notice_lead": "12 NYCRR 300.2",
        "report_due": "12 NYCRR 300.2(d)(11)",
        "claimant_gets_report": "WCL 137",
        "observer_allowed": "12 NYCRR 300.2",
        "retention": "11 NYCRR 243.2(b)(4)",
    },
    "NY-NF": {
        "exam_within": "11 NYCRR 65-3.5",
        "decision_due": "11 NYCRR 65-3.8",
        "retention": "11 NYCRR 243.2(b)(4)",
    },
    "CA-QME": {
        "appointment_notice_within": "8 CCR 34",
        "exam_within": "8 CCR 31.3",
        "report_due": "8 CCR 38",
        "claimant_gets_report": "8 CCR",
        "retention": "8 CCR 39.5",
        # The DWC Medical Unit's panel of three, struck (represented) or chosen from.
        "selection": "LC 4062.2",
        "selection_window": "LC 4062.2(c)",
    },
    "TX-DD": {
        "records_lead": "28 TAC 127.10",
        "report_due": "28 TAC 127.10",
        "claimant_gets_report": "28 TAC 127",
        # The Division's order assigning the designated doctor, within 10 days.
        "selection": "28 TAC 127.5",
        "state_issue_within": "28 TAC 127.5(a)",
    },
    "FL-WC": {"exam_notice_within": "Fla. Stat. 440.13(5)(a)"},
    "PA-IRE": {
        "report_due": "34 Pa. Code 123.105",
        "claimant_gets_report": "34 Pa. Code 123.105",
        # The Department designates the IRE physician (unless the parties agree on one).
        "selection": "34 Pa. Code 123.104",
    },
    "ERISA-LTD": {
        "decision_due": "29 CFR 2560.503-1(f)(3)",
        "decision_extensions": "29 CFR 2560.503-1(f)(3)",
        "claimant_gets_report": "29 CFR 2560.503-1",
        "decision_letter": "29 CFR 2560.503-1(g)(1)",
        "appeal_within": "29 CFR 2560.503-1(h)(4)",
        # 45 days from the appeal's receipt, one 45-day extension (disability claims).
        "appeal_decision_due": "29 CFR 2560.503-1(i)(3)(i)",
        "retention": "29 U.S.C. 1027",
    },
}


@pytest.mark.parametrize("name", REAL_PROFILES)
def test_every_rule_of_a_real_profile_carries_its_citation(name):
    profile = PROFILES[name]
    assert profile.uncited_rules() == []
    for field, source in REGULATED[name].items():
        citation = profile.citations[field]
        assert is_regulation(citation) and source in citation, (field, citation)
    # The rest are service choices, and say so.
    for field in set(profile.rules_in_effect()) - set(REGULATED[name]):
        assert profile.citations[field].startswith("operational ("), field
    # `sources` lists every regulation cited, and nothing else.
    cited = {
        s.strip() for c in profile.citations.values() if is_regulation(c) for s in c.split(";")
    }
    assert set(profile.sources) == cited and len(profile.sources) == len(cited)


def test_windows_are_the_rules_of_each_jurisdiction():
    ny_nf, erisa = PROFILES["NY-NF"], PROFILES["ERISA-LTD"]
    assert ny_nf.notice_lead is None and ny_nf.report_due is None
    assert ny_nf.decision_from == "claim_received" and erisa.decision_from == "claim_received"
    assert erisa.claimant_gets_report == "on_request" and erisa.decision_extensions == 2
    for name in ("NY-WC", "CA-QME", "TX-DD", "FL-WC", "PA-IRE", "DEMO"):
        assert PROFILES[name].decision_from == "report_accepted", name
    # Only New York workers' comp (and DEMO) give the claimant a notice lead; Texas's lead is
    # for the records, not the claimant.
    assert [n for n, p in PROFILES.items() if p.notice_lead] == ["NY-WC", "DEMO"]
    assert PROFILES["TX-DD"].records_lead == Duration(amount=3, unit="business_days")
    assert PROFILES["DEMO"].notice_lead == Duration(amount=5, unit="seconds")


def test_a_profile_recorded_before_the_windows_still_decodes():
    # The profile an NY-NF claim recorded in its history before this change (the old field set,
    # with the old notice lead and report deadline): it decodes, and keeps its recorded rules.
    recorded = PROFILES["NY-NF"].model_dump(
        exclude={
            "exam_within",
            "appointment_notice_within",
            "records_lead",
            "exam_notice_within",
            "decision_from",
            "citations",
        }
    ) | {
        "notice_lead": {"amount": 1, "unit": "business_days"},
        "report_due": {"amount": 10, "unit": "business_days"},
        "sources": ["11 NYCRR 65-3.5", "11 NYCRR 65-3.8"],
    }
    profile = JurisdictionProfile.model_validate(recorded)
    assert profile.notice_lead == Duration(amount=1, unit="business_days")
    assert profile.report_due == Duration(amount=10, unit="business_days")
    assert profile.exam_within is None and profile.decision_from == "report_accepted"
    assert profile.citations == {}


BASE = """
[defaults]
max_no_shows = 2
max_addenda = 2
reminder_fraction = 0.75
exam_duration = { amount = 1, unit = "hours" }
exam_grace = { amount = 1, unit = "days" }
confirm_due = { amount = 2, unit = "business_days" }
escalation_grace = { amount = 2, unit = "business_days" }
review_sla = { amount = 3, unit = "business_days" }
decision_due = { amount = 30, unit = "days" }
safety_ack = { amount = 15, unit = "minutes" }
scheduling_retry = { amount = 4, unit = "hours" }
business_hours = true
timezone = "America/New_York"

[defaults.citations]
review_sla = "operational (review)"
decision_due = "operational (decision)"
max_no_shows = "operational (no-shows)"
max_addenda = "operational (addenda)"
confirm_due = "operational (confirmation)"
exam_grace = "operational (grace)"
escalation_grace = "operational (grace)"
safety_ack = "operational (safety)"

[profiles.XX]
licence_state = "NY"
claimant_gets_report = "no"
"""


@pytest.mark.parametrize(
    ("profile", "refusal"),
    [
        # A rule without its citation.
        ('report_due = { amount = 10, unit = "days" }\n[profiles.XX.citations]\n', "report_due"),
        # A default rule changed (here: when its clock starts) without citing the new rule.
        ('decision_from = "claim_received"\n[profiles.XX.citations]\n', "decision_due"),
        # A citation for a rule the profile does not set.
        ('[profiles.XX.citations]\nnotice_lead = "12 NYCRR 300.2(d)(1)"\n', "notice_lead"),
    ],
)
def test_a_profile_with_an_uncited_rule_is_refused_at_load(tmp_path: Path, profile, refusal):
    path = tmp_path / "jurisdictions.toml"
    path.write_text(BASE + profile + 'claimant_gets_report = "operational (none)"\n')
    with pytest.raises(ValueError, match=f"jurisdiction profile XX: .*{refusal}"):
        load_profiles(path)


def test_the_base_test_profile_loads(tmp_path: Path):
    # The refusals above are refusals of what each case adds, not of the base file.
    path = tmp_path / "jurisdictions.toml"
    path.write_text(BASE + '[profiles.XX.citations]\nclaimant_gets_report = "operational (x)"\n')
    assert load_profiles(path)["XX"].sources == []


def test_a_profile_duration_cannot_run_backwards():
    data = PROFILES["NY-WC"].model_dump() | {"report_due": {"amount": -10, "unit": "days"}}
    with pytest.raises(ValidationError, match="report_due must not be negative"):
        JurisdictionProfile.model_validate(data)
