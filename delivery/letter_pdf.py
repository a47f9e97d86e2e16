"""The claimant's letters as PDF: letterhead, date, addressee, the letter, its enclosure (the
report of a claimant's copy), page numbers. The same `Letter` the email says (`delivery.mail`).

Written with fpdf2 (pure Python, maintained) in DejaVu Sans, vendored in `delivery/fonts/`
with its licence: the PDF core fonts hold Latin-1 only, and a claimant's name may not ("Łukasz");
fpdf2 embeds the subset of the font a letter uses. Nothing here logs or names a file: the PDF is
returned as bytes, for the email's attachment now and for storage as a `letter` document later.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from delivery.mail import Block, Letter

FONTS = Path(__file__).with_name("fonts")
FAMILY = "DejaVuSans"
# fontTools (which fpdf2 subsets the font with) logs at INFO what it keeps of the font, glyph
# names among it, and fpdf2 warns naming glyphs a font lacks: both would put the characters of
# a claimant's name in the logs.
logging.getLogger("fontTools").setLevel(logging.WARNING)
logging.getLogger("fpdf").setLevel(logging.ERROR)

_BODY = 10.5
_LINE = 5.4


class _LetterPdf(FPDF):
    def __init__(self, letterhead: str, contact: str, reference: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="Letter")
        self._letterhead = letterhead
        self._contact = contact
        self._reference = reference
        self.set_margins(22, 18, 22)
        self.set_auto_page_break(auto=True, margin=20)
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))

    def header(self) -> None:
        self.set_font(FAMILY, "B", 14)
        self.cell(0, 7, self._letterhead, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, "", 8.5)
        self.multi_cell(
            0, 4.2, f"Questions: {self._contact}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.ln(1.5)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(6)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 8)
        # `{nb}`: fpdf2 puts the page count there when the document is closed.
        self.cell(0, 6, f"{self._reference} - page {self.page_no()} of {{nb}}", align="C")

    def blocks(self, blocks: tuple[Block, ...]) -> None:
        for block in blocks:
            match block.kind:
                case "heading":
                    self.ln(2)
                    self.set_font(FAMILY, "B", 11.5)
                    self.multi_cell(
                        0, 6.2, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
                    )
                    self.ln(0.8)
                case "item":
                    self.set_font(FAMILY, "", _BODY)
                    self.cell(6, _LINE, "\u2022")
                    self.multi_cell(
                        0, _LINE, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
                    )
                    self.ln(1)
                case _:
                    self.set_font(FAMILY, "", _BODY)
                    self.multi_cell(
                        0, _LINE, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
                    )
                    self.ln(2.6)


def render(letter: Letter, *, letterhead: str) -> bytes:
    """`letter` as a PDF (US Letter pages). `letterhead`: who sends it (the sender's name)."""
    pdf = _LetterPdf(letterhead, letter.contact, letter.reference)
    # The document's own properties: the subject and the sender, never the claimant's name.
    pdf.set_title(letter.subject)
    pdf.set_author(letterhead)
    pdf.set_creator("IME Claims Orchestrator")
    pdf.add_page()
    pdf.set_font(FAMILY, "", _BODY)
    if letter.dated is not None:
        pdf.cell(
            0,
            _LINE,
            _long_date(letter.dated),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(4)
    if letter.addressee is not None:
        for line in (letter.addressee.name, *letter.addressee.postal):
            pdf.multi_cell(0, _LINE, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(6)
    pdf.set_font(FAMILY, "B", _BODY)
    pdf.multi_cell(0, _LINE, letter.subject, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.blocks(letter.blocks)
    if letter.enclosure:
        pdf.add_page()
        pdf.set_font(FAMILY, "B", 13)
        title = letter.enclosure_title or "Enclosure"
        pdf.multi_cell(0, 7, title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        pdf.blocks(letter.enclosure)
    return bytes(pdf.output())


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
