"""The report's tables as CSV: one file a table, UTF-8, ``\\n`` line ends, no index.

The CSV bytes are also what the content hash covers (``snapshot.content_hash``): they are the
frames themselves, before any formatting for print. Text that a spreadsheet would run as a
formula is quoted (``safety.escaping.neutralise_frame``), here and in every CSV download.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from safety.escaping import neutralise_frame
from safety.report.tables import ReportTable


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A table as CSV bytes: UTF-8, ``\n`` line ends, no index, formula-like text quoted.

    A text holding a carriage return would split its row (the csv module quotes only the
    characters of the line end): such a table has every text field in quotes.
    """
    safe = neutralise_frame(frame)
    carriage_return = any(
        safe[c].astype(str).str.contains("\r", regex=False).any()
        for c in safe.columns
        if not pd.api.types.is_numeric_dtype(safe[c])
    )
    quoting = csv.QUOTE_NONNUMERIC if carriage_return else csv.QUOTE_MINIMAL
    return safe.to_csv(index=False, lineterminator="\n", quoting=quoting).encode("utf-8")


def table_csv(table: ReportTable) -> bytes:
    """One table of the report as CSV bytes (deterministic for the same frame)."""
    return frame_csv(table.frame)


def write_csvs(tables: tuple[ReportTable, ...], folder: Path) -> list[Path]:
    """Write ``<key>.csv`` for every table into ``folder``; returns the paths in table order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        path = folder / f"{table.key}.csv"
        path.write_bytes(table_csv(table))
        paths.append(path)
    return paths
