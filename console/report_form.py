"""The examiner's report form, both ways: the `report` action's body from the posted form (the API
validates it as any caller's JSON, so the form refuses exactly what the API refuses), and the
values the form shows, from the last version filed (an addendum starts from it) or from the form
just refused (nothing typed is lost). No rule of the report lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from console.acting import form_text
from domain.models import ExamReport
from domain.names import Action

# The MMI radio's values: "unknown" is no answer (`mmi_reached` null, which the QA names).
_MMI = {"yes": True, "no": False}


def _lines(form: FormData, name: str) -> list[str]:
    """A one-per-line field as its non-blank lines."""
    text = form.get(name)
    if not isinstance(text, str):
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def report_body(_: Action, form: FormData) -> dict[str, Any]:
    """`ExamReport` from the form. Answers keep their places (a blank answer stays blank, so the
    next one still answers its own question); numbers and dates go as typed and the API parses
    them (a 422 names the field, never the value)."""
    answers = [a.strip() if isinstance(a, str) else "" for a in form.getlist("answer")]
    return {
        "answers": answers if any(answers) else [],
        "diagnoses": _lines(form, "diagnoses"),
        "causation": form_text(form, "causation"),
        "mmi_reached": _MMI.get(form_text(form, "mmi_reached") or ""),
        "mmi_date": form_text(form, "mmi_date"),
        "impairment_percent": form_text(form, "impairment_percent"),
        "work_restrictions": form_text(form, "work_restrictions"),
        "further_treatment": form_text(form, "further_treatment"),
        "records_reviewed": _lines(form, "records_reviewed"),
    }


@dataclass(frozen=True)
class FormValues:
    """What each field of the form shows (text as the inputs take it)."""

    answers: list[str] = field(default_factory=list)
    diagnoses: str = ""
    causation: str = ""
    mmi_reached: str = "unknown"
    mmi_date: str = ""
    impairment_percent: str = ""
    work_restrictions: str = ""
    further_treatment: str = ""
    records_reviewed: str = ""

    def answer(self, index: int) -> str:
        return self.answers[index] if index < len(self.answers) else ""


def from_report(report: ExamReport) -> FormValues:
    mmi = "unknown" if report.mmi_reached is None else ("yes" if report.mmi_reached else "no")
    percent = report.impairment_percent
    return FormValues(
        answers=list(report.answers),
        diagnoses="\n".join(report.diagnoses),
        causation=report.causation.value if report.causation else "",
        mmi_reached=mmi,
        mmi_date=report.mmi_date.isoformat() if report.mmi_date else "",
        impairment_percent=f"{percent:g}" if percent is not None else "",
        work_restrictions=report.work_restrictions or "",
        further_treatment=report.further_treatment or "",
        records_reviewed="\n".join(report.records_reviewed),
    )


def from_form(form: FormData) -> FormValues:
    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    return FormValues(
        answers=[a if isinstance(a, str) else "" for a in form.getlist("answer")],
        diagnoses=text("diagnoses"),
        causation=text("causation"),
        mmi_reached=text("mmi_reached") or "unknown",
        mmi_date=text("mmi_date"),
        impairment_percent=text("impairment_percent"),
        work_restrictions=text("work_restrictions"),
        further_treatment=text("further_treatment"),
        records_reviewed=text("records_reviewed"),
    )
