"""Pure rules: deadlines on holiday calendars, the QA checklist, recommendations, ids, profiles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.deadlines import add_business_days, business_slots, due_at
from domain.ids import claim_id_for, claimant_key, workflow_id_for
from domain.models import INTAKE, ExamReport, Recommendation, Referral
from domain.profiles import PROFILES, Duration
from domain.quality import qa_findings, recommendation_for
from tests.helpers.referrals import complete_report, referral_payload


def test_business_days_skip_weekends_and_holidays():
    # Wed 2026-11-25 + 2 business days: Thanksgiving (Thu) and the weekend are skipped.
    assert add_business_days(date(2026, 11, 25), 2, "NY") == date(2026, 11, 30)
    # Friday after Thanksgiving is a state holiday in California, not in New York.
    assert add_business_days(date(2026, 11, 25), 1, "NY") == date(2026, 11, 27)
    assert add_business_days(date(2026, 11, 25), 1, "CA") == date(2026, 11, 30)


def test_ny_report_due_ten_business_days_at_close_of_business():
    exam = datetime(2026, 12, 17, 15, 0, tzinfo=UTC)  # Thu
    due = due_at(exam, Duration(amount=10, unit="business_days"), state="NY", tz="America/New_York")
    # Christmas and New Year's Day are skipped: ten business days later is Sat 2 Jan -> Mon 4 Jan.
    assert due == datetime(2027, 1, 4, 22, 0, tzinfo=UTC)  # 17:00 in New York


def test_calendar_durations_are_exact():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_at(
        start, Duration(amount=30, unit="days"), state="CA", tz="UTC"
    ) == start + timedelta(days=30)
    assert due_at(
        start, Duration(amount=20, unit="seconds"), state=None, tz="UTC"
    ) == start + timedelta(seconds=20)


def test_business_slots_stay_within_office_hours():
    slots = business_slots(
        datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        state="NY",
        tz="America/New_York",
        slot=timedelta(hours=1),
    )
    first = [next(slots) for _ in range(9)]
    # Thanksgiving is skipped; the first slot is Friday 09:00 New York time (14:00 UTC).
    assert first[0] == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert first[7] == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # 16:00, the last of the day
    assert first[8] == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday


def test_complete_report_passes_qa():
    assert qa_findings(ExamReport.model_validate(complete_report()), question_count=2) == []


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        ({"answers": ["only one"]}, "answers"),
        ({"causation": None}, "causation"),
        ({"mmi_reached": None}, "mmi"),
        ({"impairment_percent": None}, "impairment"),
        ({"impairment_percent": 130}, "impairment"),
        ({"mmi_date": None}, "mmi"),
        ({"work_restrictions": ""}, "restrictions"),
        ({"records_reviewed": []}, "records"),
    ],
)
def test_qa_checklist_flags_each_missing_item(change, finding):
    report = ExamReport.model_validate(complete_report() | change)
    findings = qa_findings(report, question_count=2)
    assert len(findings) == 1 and findings[0].startswith(finding)


def test_impairment_not_required_before_mmi():
    report = complete_report() | {
        "mmi_reached": False,
        "impairment_percent": None,
        "mmi_date": None,
    }
    assert qa_findings(ExamReport.model_validate(report), question_count=2) == []


@pytest.mark.parametrize(
    ("causation", "expected"),
    [
        ("related", Recommendation.APPROVE),
        ("partially_related", Recommendation.APPROVE),
        ("not_related", Recommendation.DENY),
        ("undetermined", None),
    ],
)
def test_recommendation_follows_causation(causation, expected):
    assert recommendation_for(ExamReport.model_validate(complete_report(causation))) == expected


def test_claim_ids_are_opaque_and_deterministic():
    first = claim_id_for("s", "acme-ins", "WC-2026-000123")
    assert first == claim_id_for("s", "acme-ins", "WC-2026-000123")
    assert first != claim_id_for("s", "other-ins", "WC-2026-000123")
    assert first != claim_id_for("other-secret", "acme-ins", "WC-2026-000123")
    assert "000123" not in workflow_id_for(first) and "acme" not in first
    assert claimant_key("s", "Jane  ROE", "1980-04-02") == claimant_key(
        "s", "jane roe", "1980-04-02"
    )


def test_every_profile_of_the_spec_is_loaded_with_its_rules():
    assert set(PROFILES) == {
        "NY-WC",
        "NY-NF",
        "CA-QME",
        "TX-DD",
        "FL-WC",
        "PA-IRE",
        "ERISA-LTD",
        "DEMO",
    }
    assert PROFILES["NY-WC"].notice_lead == Duration(amount=7, unit="business_days")
    assert PROFILES["TX-DD"].report_due == Duration(amount=7, unit="business_days")
    assert PROFILES["CA-QME"].report_due == Duration(amount=30, unit="days")
    assert PROFILES["ERISA-LTD"].decision_due == Duration(amount=45, unit="days")
    assert PROFILES["ERISA-LTD"].decision_extensions == 2
    demo = PROFILES["DEMO"]
    assert (demo.report_due, demo.review_sla, demo.decision_due) == (
        Duration(amount=20, unit="seconds"),
        Duration(amount=10, unit="seconds"),
        Duration(amount=30, unit="seconds"),
    )
    assert PROFILES["DEMO"].examiner_licence_state("TX") == "TX"
    assert PROFILES["NY-WC"].examiner_licence_state("NJ") == "NY"


def test_referral_rejects_unknown_profile_and_bad_fields():
    with pytest.raises(ValidationError) as err:
        Referral.model_validate(
            referral_payload("XX") | {"requested_specialty": "astrology", "questions": []},
            context=INTAKE,
        )
    fields = {e["loc"][0] for e in err.value.errors()}
    assert fields == {"jurisdiction", "requested_specialty", "questions"}


def test_intake_only_rules_do_not_apply_when_a_workflow_decodes_its_input():
    recorded = referral_payload("RETIRED-PROFILE")
    with pytest.raises(ValidationError):
        Referral.model_validate(recorded, context=INTAKE)
    # A profile removed after the claim started must not break the claim's replay.
    assert Referral.model_validate(recorded).jurisdiction == "RETIRED-PROFILE"


def test_state_codes_must_be_real():
    payload = referral_payload("ERISA-LTD")
    payload["claimant"]["address"]["state"] = "ZZ"
    with pytest.raises(ValidationError) as err:
        Referral.model_validate(payload, context=INTAKE)
    assert [e["loc"] for e in err.value.errors()] == [("claimant", "address", "state")]
