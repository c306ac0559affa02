"""The report as a PDF (fpdf2): title page, contents, the sections with tables and figures.

Deterministic: the creation date is the data's freeze time (never the wall clock), fpdf2 derives
the document id from the content, and nothing random goes in; the same content and the same
fpdf2 and font files give the same bytes. Text uses DejaVu Sans (Debian's fonts-dejavu-core,
which Chromium's fontconfig pulls in) for symbols such as ≥; without it, the core Helvetica font
with those symbols spelled out (>=).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from fpdf import FPDF, TextStyle
from fpdf.fonts import FontFace
from fpdf.outline import OutlineSection

from safety.report.tables import SECTIONS, ReportContent, display_frame

log = logging.getLogger(__name__)

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
)
HEADER_FILL = (222, 232, 245)
STRIPE_FILL = (246, 248, 251)
TABLE_FONT_PT = {"normal": 8, "wide": 6.5}  # wide: 9 or more columns
CHAR_MM_PER_PT = 0.27  # average DejaVu Sans character width per point of font size, in mm
MIN_TABLE_START_MM = 45  # heading, note, header row and a few rows; else start a new page
FIGURE_WIDTH = 0.85  # of the text width
MAX_COLUMN_CHARS = 45  # a column of long text (reasons, rules) wraps beyond this
# Latin-1 fallbacks when no Unicode font is installed (the core fonts are Latin-1 only).
_LATIN1 = {"≥": ">=", "≤": "<=", "×": "x", "·": "-", "…": "...", "–": "-", "—": "-", "’": "'"}


def _unicode_font() -> tuple[Path, Path] | None:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    return None


class _ReportPdf(FPDF):
    """A4 landscape with a running header (study, cut-off, open/closed) and page numbers."""

    def __init__(self, content: ReportContent) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.content = content
        font = _unicode_font()
        if font:
            self.add_font("Report", "", str(font[0]))
            self.add_font("Report", "B", str(font[1]))
            self.family = "Report"
        else:
            log.warning("DejaVu Sans not found: the PDF uses Helvetica (Latin-1 only)")
            self.family = "Helvetica"
        self.unicode = font is not None
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(12, 14, 12)

    def text_of(self, text: str) -> str:
        """Text the font can draw."""
        if self.unicode:
            return text
        for char, plain in _LATIN1.items():
            text = text.replace(char, plain)
        return text.encode("latin-1", "replace").decode("latin-1")

    def header(self) -> None:
        if self.page_no() == 1:
            return
        c = self.content
        self.set_font(self.family, "", 7.5)
        self.set_text_color(90, 90, 90)
        marking = "CLOSED REPORT: DSMB members only" if c.kind == "closed" else "OPEN REPORT"
        self.cell(0, 5, self.text_of(f"{c.study_id} · data cut-off {c.cutoff:%d %b %Y}"),
                  align="L")  # fmt: skip
        self.set_x(self.l_margin)
        self.cell(0, 5, marking, align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(self.family, "", 7.5)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def write_pdf(
    content: ReportContent,
    path: Path,
    images: Mapping[str, bytes],
    facts: Mapping[str, str],
    created: datetime,
) -> Path:
    """Write the report PDF.

    Parameters
    ----------
    content
        The tables and figures (:func:`safety.report.tables.report_content`).
    path
        Where to write.
    images
        Figure key -> PNG bytes.
    facts
        Title-page lines after the study and cut-off: label -> value (data version, content
        hash, configuration sha256, software version, ...).
    created
        The PDF creation date (the data's freeze time; UTC).
    """
    pdf = _ReportPdf(content)
    pdf.set_creation_date(created.replace(tzinfo=UTC) if created.tzinfo is None else created)
    kind = "Closed" if content.kind == "closed" else "Open"
    pdf.set_title(f"{content.study_id} DSMB {kind.lower()} report, cut-off {content.cutoff}")
    pdf.set_author("safety")
    pdf.set_creator("safety (python -m safety report)")
    pdf.set_section_title_styles(
        TextStyle(font_family=pdf.family, font_style="B", font_size_pt=15, b_margin=3),
        TextStyle(font_family=pdf.family, font_style="B", font_size_pt=10.5, t_margin=3,
                  b_margin=1.5),
    )
    _title_page(pdf, content, facts)
    pdf.add_page()
    pdf.insert_toc_placeholder(_render_toc, pages=1)
    _about(pdf, content)
    tables = {s: [t for t in content.tables if t.section == s] for s in SECTIONS}
    figures = {s: [f for f in content.figures if f.section == s] for s in SECTIONS}
    for section in SECTIONS:
        if not tables[section] and not figures[section]:
            continue
        pdf.add_page()
        pdf.start_section(section, level=0)
        for table in tables[section]:
            # a table that fits on a page starts on a new one rather than being split, and no
            # heading stays alone at the foot of a page
            height = 16 + (len(table.frame) + 2) * 5.5
            usable = pdf.page_break_trigger - pdf.t_margin - 10
            if pdf.will_page_break(height if height < usable else MIN_TABLE_START_MM):
                pdf.add_page()
            pdf.start_section(table.title, level=1)
            _note(pdf, table.note)
            _table(pdf, table.frame)
            pdf.ln(4)
        for figure in figures[section]:
            png = images.get(figure.key)
            if png is None:
                continue
            width = pdf.epw * FIGURE_WIDTH
            if pdf.will_page_break(12 + width * _png_aspect(png)):
                pdf.add_page()
            pdf.start_section(f"Figure: {figure.title}", level=1)
            pdf.image(io.BytesIO(png), w=width, x=pdf.l_margin)
            pdf.ln(4)
    path.write_bytes(bytes(pdf.output()))
    return path


def _title_page(pdf: _ReportPdf, content: ReportContent, facts: Mapping[str, str]) -> None:
    pdf.add_page()
    pdf.set_y(30)
    pdf.set_font(pdf.family, "B", 11)
    pdf.set_text_color(120, 20, 20) if content.kind == "closed" else pdf.set_text_color(30, 60, 120)
    pdf.cell(
        0, 7,
        "CLOSED REPORT: for the members of the Data and Safety Monitoring Board only"
        if content.kind == "closed"
        else "OPEN REPORT: aggregate data, no comparison between cohorts",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    pdf.set_font(pdf.family, "B", 22)
    pdf.multi_cell(0, 10, pdf.text_of(f"{content.study_id}: DSMB report"),
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.set_font(pdf.family, "", 12)
    pdf.multi_cell(0, 6, pdf.text_of(content.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    rows = {
        "Study": content.study_id
        + (f" ({content.registry_id})"
           if content.registry_id and content.registry_id != content.study_id else ""),
        "Data cut-off": f"{content.cutoff:%d %B %Y} (records dated on or before this day)",
        **facts,
    }
    pdf.set_font(pdf.family, "", 10)
    with pdf.table(
        col_widths=(55, 190), width=245, align="LEFT", first_row_as_headings=False,
        borders_layout="NONE", line_height=6, text_align="LEFT",
    ) as table:  # fmt: skip
        for label, value in rows.items():
            row = table.row()
            pdf.set_font(pdf.family, "B", 10)
            row.cell(pdf.text_of(label))
            pdf.set_font(pdf.family, "", 10)
            row.cell(pdf.text_of(str(value)))
    if content.dose_note:
        pdf.ln(4)
        pdf.set_font(pdf.family, "", 9)
        pdf.multi_cell(0, 5, pdf.text_of(f"Note: {content.dose_note}"))


def _render_toc(pdf: FPDF, outline: list[OutlineSection]) -> None:
    pdf.set_x(pdf.l_margin)
    pdf.set_font(pdf.family, "B", 15)
    pdf.cell(0, 10, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for entry in outline:
        if entry.level > 1:
            continue
        pdf.set_font(pdf.family, "B" if entry.level == 0 else "", 10 if entry.level == 0 else 8.5)
        indent = 6 * entry.level
        pdf.set_x(pdf.l_margin + indent)
        link = pdf.add_link(page=entry.page_number)
        pdf.cell(pdf.epw - indent - 15, 5, pdf.text_of(entry.name), link=link)
        pdf.cell(15, 5, str(entry.page_number), align="R", new_x="LMARGIN", new_y="NEXT",
                 link=link)  # fmt: skip


def _about(pdf: _ReportPdf, content: ReportContent) -> None:
    # the contents placeholder has just opened a new page
    pdf.start_section("About this report", level=0)
    pdf.set_font(pdf.family, "", 9.5)
    text = [
        "Data cut-off: records dated on or before the cut-off count (AE onset, lab collection, "
        "first dose, dosing, enrolment). The data are frozen as delivered when the first report "
        "of this cut-off was made (see the data version on the title page): records and DLT "
        "adjudications that arrive later do not change this report.",
        "Tables and figures are produced by the same functions as the dashboard's pages.",
        content.design_description,
    ]
    if content.kind == "open":
        text.append(
            "This open report pools all cohorts: it holds no comparison between cohorts and no "
            "listing of individual events (FDA guidance on data monitoring committees, 2006)."
        )
    for paragraph in text:
        pdf.multi_cell(0, 5, pdf.text_of(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    if content.recommendation:
        pdf.set_font(pdf.family, "B", 10)
        pdf.multi_cell(0, 5.5, pdf.text_of(f"Recommendation for the next patients: "
                                           f"{content.recommendation}"))  # fmt: skip


def _note(pdf: _ReportPdf, note: str) -> None:
    if note:
        pdf.set_font(pdf.family, "", 8)
        pdf.set_text_color(80, 80, 80)
        pdf.multi_cell(0, 4.2, pdf.text_of(note), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1)


def _table(pdf: _ReportPdf, frame: pd.DataFrame) -> None:
    if frame.empty:
        pdf.set_font(pdf.family, "", 9)
        pdf.cell(0, 6, "None at the cut-off.", new_x="LMARGIN", new_y="NEXT")
        return
    cells = display_frame(frame)
    size = TABLE_FONT_PT["wide" if len(cells.columns) >= 9 else "normal"]
    pdf.set_font(pdf.family, "", size)
    headers = [pdf.text_of(str(c)) for c in cells.columns]
    body = [[pdf.text_of(v) for v in row] for row in cells.itertuples(index=False)]
    widths = _column_widths(headers, body)
    natural = sum(widths) * size * CHAR_MM_PER_PT + len(widths) * 3
    with pdf.table(
        col_widths=widths, width=min(pdf.epw, natural), align="LEFT", text_align="LEFT", line_height=size * 0.5,
        headings_style=FontFace(emphasis="B", fill_color=HEADER_FILL),
        cell_fill_color=STRIPE_FILL, cell_fill_mode="ROWS", padding=0.8,
    ) as table:  # fmt: skip
        table.row(headers)
        for row in body:
            table.row(row)


def _column_widths(headers: list[str], body: list[list[str]]) -> list[float]:
    """Relative widths from the longest text of each column (a header counts by its longest
    word), capped so one long column of reasons can't squeeze the others."""
    widths = []
    for i, header in enumerate(headers):
        longest = max((len(r[i]) for r in body), default=0)
        word = max((len(w) for w in header.split()), default=1)
        widths.append(min(max(longest, word + 2, 5), MAX_COLUMN_CHARS))
    return widths


def _png_aspect(png: bytes) -> float:
    """Height / width of a PNG, from its IHDR chunk."""
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    return height / width if width else 0.5
