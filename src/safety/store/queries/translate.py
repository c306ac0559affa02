"""A delivered dataset put into SDTM shape by one SQL projection (ADaM datasets, mapped exports).

The projection is data (:class:`Projection`, built by ``safety.ingest.translate``): which SDTM
variable comes from which delivered column and how. It runs as one ``SELECT`` over a DuckDB
relation, so it works on a frame as read today and on a relation read by DuckDB itself.
Identifiers are quoted (a delivered column may be called anything); codes and constants go in
as parameters, never as SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

Kind = Literal["copy", "date", "datetime", "constant", "codes", "row_number"]
_ROW = "__delivered_row__"


@dataclass(frozen=True, slots=True)
class Projection:
    """One SDTM variable of the output: ``copy`` the source column; its ISO 8601 ``date`` or
    ``datetime`` text (from a date, a date-time or ISO text; anything else as delivered, for
    validation to judge); a ``constant``; the source with
    its local ``codes`` replaced (case-insensitive, others kept); the delivered ``row_number``
    (1-based, for a sequence number the export lacks)."""

    target: str
    kind: Kind
    source: str | None = None
    value: str | None = None
    codes: dict[str, str] = field(default_factory=dict)


def quote(name: str) -> str:
    """An identifier as SQL: double-quoted, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _expression(p: Projection, params: list, row_column: str) -> str:
    src = quote(p.source) if p.source is not None else None
    if p.kind == "copy":
        return src
    # a value that is no date stays as delivered, for the validator to quarantine with its reason
    if p.kind == "date":
        return (f"coalesce(strftime(TRY_CAST({src} AS DATE), '%Y-%m-%d'), "
                f"strftime(TRY_CAST({src} AS TIMESTAMP), '%Y-%m-%d'), CAST({src} AS VARCHAR))")
    if p.kind == "datetime":
        return (f"coalesce(strftime(TRY_CAST({src} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S'), "
                f"CAST({src} AS VARCHAR))")
    if p.kind == "constant":
        params.append(p.value)
        return "CAST(? AS VARCHAR)"
    if p.kind == "row_number":
        return f"{quote(row_column)} + 1"
    if p.kind == "codes":
        text = f"CAST({src} AS VARCHAR)"
        if not p.codes:
            return text
        whens = []
        for local, term in p.codes.items():
            params.extend([local, term])
            whens.append("WHEN ? THEN ?")
        return f"CASE upper(trim({text})) {' '.join(whens)} ELSE {text} END"
    raise ValueError(f"unknown projection kind {p.kind!r}")


def projection_sql(projections: list[Projection], source: str,
                   row_column: str = _ROW) -> tuple[str, list]:
    """The projection as one ``SELECT`` over the relation or view ``source`` (a fixed name)
    with its parameters; rows in the order of ``row_column`` (0-based delivered row number).

    A reader that hands over a DuckDB relation runs it as ``con.sql(sql, params=params)``
    after registering the relation as ``source`` with that column.
    """
    params: list = []
    columns = ", ".join(f"{_expression(p, params, row_column)} AS {quote(p.target)}"
                        for p in projections)
    return f"SELECT {columns} FROM {quote(source)} ORDER BY {quote(row_column)}", params


def project(frame: pd.DataFrame, projections: list[Projection]) -> pd.DataFrame:
    """The delivered rows (a frame as read) as the projected SDTM variables, in delivered
    order."""
    sql, params = projection_sql(projections, "delivered")
    con = duckdb.connect()
    try:
        con.register("delivered", frame.assign(**{_ROW: np.arange(len(frame), dtype="int64")}))
        out = con.execute(sql, params).df()
    finally:
        con.close()
    return out.set_axis(frame.index[: len(out)]) if len(out) == len(frame) else out
