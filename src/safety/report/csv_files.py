"""The report's tables as CSV: one file a table, UTF-8, ``\\n`` line ends, no index.

The CSV bytes are also what the content hash covers (``snapshot.content_hash``): they are the
frames themselves, before any formatting for print.
"""

from __future__ import annotations

from pathlib import Path

from safety.report.tables import ReportTable


def table_csv(table: ReportTable) -> bytes:
    """One table as CSV bytes (deterministic for the same frame)."""
    return table.frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_csvs(tables: tuple[ReportTable, ...], folder: Path) -> list[Path]:
    """Write ``<key>.csv`` for every table into ``folder``; returns the paths in table order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        path = folder / f"{table.key}.csv"
        path.write_bytes(table_csv(table))
        paths.append(path)
    return paths
