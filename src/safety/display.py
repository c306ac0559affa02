"""How a table is shown to people (pages and their downloads): column headers in words, dates
as dates, nothing missing written as "None", "nan" or "NaT"."""

from __future__ import annotations

import pandas as pd

# Column names of the data model in words (SDTM variable in brackets where it helps).
HEADERS = {
    "usubjid": "Subject",
    "patient": "Subject",
    "study_id": "Study",
    "site_id": "Site",
    "cohort_label": "Cohort",
    "seq": "Record no. (--SEQ)",
    "source_seq": "Record no. (--SEQ)",
    "pt": "Preferred term",
    "soc": "System organ class",
    "verbatim": "Verbatim term",
    "start_imputed": "Start date imputed",
    "snapshot_id": "Snapshot",
    "batch_id": "Batch",
    "old_batch": "Previous batch",
    "new_batch": "New batch",
    "based_on": "Based on batch",
    "sha256": "SHA-256",
    "lln": "Lower limit of normal",
    "uln": "Upper limit of normal",
    "ctcae_term": "CTCAE term",
    "dlt_rule": "DLT rule",
    "dlt_status": "DLT status",
    "dlt_state": "DLT state",
    "dlts": "DLTs",
    "n": "n",
    "crm": "CRM",
    "boin": "BOIN",
    "boin_lower": "BOIN lower",
    "boin_upper": "BOIN upper",
    "visit_num": "Visit number",
}


def header(column: object) -> object:
    """A column name in words: ``start_imputed`` -> "Start date imputed", ``first_dose_date``
    -> "First dose date"; names that already read as words are kept."""
    if not isinstance(column, str) or column != column.lower() or " " in column:
        return column
    return HEADERS.get(column, column.replace("_", " ").capitalize())


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as people read it: headers in words (:func:`header`), date-times that are all
    midnight as dates, missing values as empty cells."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            known = values.dropna()
            if known.empty or (known == known.dt.normalize()).all():
                out[column] = values.dt.strftime("%Y-%m-%d").fillna("")
            else:
                out[column] = values.dt.strftime("%Y-%m-%d %H:%M").fillna("")
        elif values.isna().any():
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                out[column] = values.astype(object).where(values.notna(), "").map(_number)
            else:
                out[column] = values.astype(object).where(values.notna(), "")
    return out.rename(columns=header)


def _number(value: object) -> object:
    """A number as shown in a column that has gaps: whole numbers without ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if value == "" else str(value)
