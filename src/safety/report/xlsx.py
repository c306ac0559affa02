"""The report's tables as one XLSX workbook (xlsxwriter): a cover sheet, then one sheet a table.

Formatted for reading: bold shaded header row, frozen header, autofilter, column widths from
the content. Deterministic: the workbook's creation date is set (xlsxwriter otherwise stamps
the wall clock) and xlsxwriter writes fixed zip timestamps, so the same tables give the same
bytes. Inert: text is never written as a formula or a link (xlsxwriter's ``strings_to_formulas``
and ``strings_to_urls`` off), and text a spreadsheet would take for a formula (OWASP: starting
with ``=``, ``+``, ``-``, ``@``, tab or CR) carries Excel's quote prefix, so it stays text even
when the cell is edited.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from safety.escaping import is_formula_like
from safety.report.tables import ReportContent

MAX_COLUMN_WIDTH = 60  # characters; longer text wraps
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}
HEADER = {"bold": True, "bg_color": "#DEE8F5", "border": 1, "quote_prefix": True}


def _writer(buffer: io.BytesIO) -> pd.ExcelWriter:
    return pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": WORKBOOK_OPTIONS})


def _quote_formula_like(writer: pd.ExcelWriter, sheet, frame: pd.DataFrame, first_row: int) -> None:
    """Rewrite the frame's formula-like text cells (data from row ``first_row``) with Excel's
    quote prefix."""
    quoted = None
    for col, name in enumerate(frame.columns):
        values = frame[name]
        for row in np.flatnonzero(values.map(is_formula_like).to_numpy(dtype=bool)):
            quoted = quoted or writer.book.add_format({"quote_prefix": True})
            sheet.write_string(first_row + int(row), col, values.iloc[int(row)], quoted)


def workbook_bytes(content: ReportContent, facts: Mapping[str, str], created: datetime) -> bytes:
    """The workbook as bytes. ``facts`` go on the cover sheet; ``created`` is its date."""
    buffer = io.BytesIO()
    with _writer(buffer) as writer:
        book = writer.book
        book.set_properties(
            {
                "title": f"{content.study_id} DSMB {content.kind} report, cut-off {content.cutoff}",
                "author": "safety",
                "created": created,
            }
        )
        header = book.add_format({**HEADER, "text_wrap": True, "valign": "top"})
        wrap = book.add_format({"text_wrap": True, "valign": "top", "quote_prefix": True})
        bold = book.add_format({"bold": True})
        cover = book.add_worksheet("Report")
        cover.set_column(0, 0, 28)
        cover.set_column(1, 1, 100)
        lines = {
            "Study": content.study_id,
            "Title": content.title,
            "Report": f"{content.kind} report",
            "Data cut-off": content.cutoff.isoformat(),
            **facts,
        }
        for row, (label, value) in enumerate(lines.items()):
            cover.write(row, 0, label, bold)
            cover.write(row, 1, str(value), wrap)
        row = len(lines) + 1
        cover.write(row, 0, "Sheets", bold)
        for i, table in enumerate(content.tables, start=row + 1):
            cover.write_url(i, 0, f"internal:'{table.key}'!A1", string=table.key)
            cover.write(i, 1, table.title)
        for table in content.tables:
            frame = table.frame
            frame.to_excel(writer, sheet_name=table.key, index=False, startrow=1)
            sheet = writer.sheets[table.key]
            _quote_formula_like(writer, sheet, frame, first_row=2)
            sheet.write(0, 0, table.title + (f". {table.note}" if table.note else ""), bold)
            for col, name in enumerate(frame.columns):
                sheet.write(1, col, str(name), header)
                longest = max([len(str(name))] + [len(str(v)) for v in frame[name].tolist()])
                sheet.set_column(col, col, min(longest + 2, MAX_COLUMN_WIDTH),
                                 wrap if longest > MAX_COLUMN_WIDTH else None)  # fmt: skip
            sheet.freeze_panes(2, 0)
            if len(frame.columns):
                sheet.autofilter(1, 0, 1 + len(frame), len(frame.columns) - 1)
    return buffer.getvalue()


def write_xlsx(
    content: ReportContent, path: Path, facts: Mapping[str, str], created: datetime
) -> Path:
    """Write the workbook to ``path``."""
    path.write_bytes(workbook_bytes(content, facts, created))
    return path


def frame_xlsx(frame: pd.DataFrame, sheet_name: str = "table") -> bytes:
    """One table as a formatted one-sheet workbook (the pages' XLSX download)."""
    sheet_name = "".join(ch for ch in sheet_name if ch not in "[]:*?/\\")[:31] or "table"
    buffer = io.BytesIO()
    with _writer(buffer) as writer:
        header = writer.book.add_format(HEADER)
        frame.to_excel(writer, sheet_name=sheet_name, index=False)
        sheet = writer.sheets[sheet_name]
        _quote_formula_like(writer, sheet, frame, first_row=1)
        for col, name in enumerate(frame.columns):
            sheet.write(0, col, str(name), header)
            longest = max([len(str(name))] + [len(str(v)) for v in frame[name].tolist()])
            sheet.set_column(col, col, min(longest + 2, MAX_COLUMN_WIDTH))
        sheet.freeze_panes(1, 0)
    return buffer.getvalue()
