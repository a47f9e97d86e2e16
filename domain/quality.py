"""Automatic QA checklist for examination reports and the recommendation derived from them."""

from __future__ import annotations

from domain.models import Causation, ExamReport, Recommendation

# The checklist's items, each as the prefix of its findings (`qa_findings` says "<item>: why")
# and in words, for a page that shows every item passed or failed (the reviewer's portal).
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("answers", "Every referral question answered"),
    ("causation", "A causation opinion"),
    ("mmi", "Maximum medical improvement stated, with its date when reached"),
    ("impairment", "An impairment rating (0 to 100 percent) when MMI is reached"),
    ("restrictions", "Work restrictions stated"),
    ("records", "The records reviewed listed"),
)


def qa_findings(report: ExamReport, question_count: int) -> list[str]:
    """Return the checklist items the report fails; an empty list means it passes."""
    findings: list[str] = []
    answered = [a for a in report.answers if a.strip()]
    if len(answered) < question_count:
        findings.append(f"answers: {len(answered)} of {question_count} referral questions answered")
    if report.causation is None:
        findings.append("causation: no causation opinion")
    if report.mmi_reached is None:
        findings.append("mmi: maximum medical improvement not stated")
    elif report.mmi_reached:
        if report.impairment_percent is None:
            findings.append("impairment: MMI reached but no impairment rating")
        elif not 0 <= report.impairment_percent <= 100:
            findings.append("impairment: rating must be between 0 and 100 percent")
        if report.mmi_date is None:
            findings.append("mmi: MMI reached but no MMI date")
    if not (report.work_restrictions or "").strip():
        findings.append("restrictions: work restrictions not stated")
    if not report.records_reviewed:
        findings.append("records: no records reviewed listed")
    return findings


def recommendation_for(report: ExamReport) -> Recommendation | None:
    match report.causation:
        case Causation.NOT_RELATED:
            return Recommendation.DENY
        case Causation.RELATED | Causation.PARTIALLY_RELATED:
            return Recommendation.APPROVE
        case _:
            return None
