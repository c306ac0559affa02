"""Validation rules: every check a delivered row must pass, each with a reason a data manager reads.

A file missing a required column is rejected whole (with the list of missing columns). Every
other rule marks rows: a marked row goes to ``quarantine`` with its raw record and all of its
reasons, the rest load. The parsers here (numbers, ISO 8601 dates, controlled terms) type a
column and record the rows whose value does not fit, vectorised over the whole column.

Rules (the ``rule`` stored with a quarantined row)
--------------------------------------------------
- ``wrong_type``: a numeric variable that is not a number, a whole-number variable with a
  fraction, a --DTC that is not ISO 8601, a full date required but partial given.
- ``unknown_term``: a value outside its CDISC controlled terminology (or the study's arms).
- ``end_before_start``: the latest possible end is before the earliest possible start.
- ``not_in_dm``: USUBJID not among the study's current DM subjects.
- ``grade_out_of_range``: AETOXGR not a CTCAE grade 1-5.
- ``duplicate_key``: the record's key (e.g. USUBJID + AESEQ) occurs more than once in the file;
  every occurrence is quarantined, since which one is right cannot be told.
- ``missing_value``: a required variable is blank.
- ``wrong_study``: STUDYID is not the study being loaded.
- ``implausible_date``: a --DTC before 1900 or after the day of delivery plus the study's
  tolerance (``[delivery] future_days``): 9999-12-31 is a placeholder, not a date.
- ``implausible_value``: a number that is not finite (inf, 1e400), beyond 10^12, a whole
  number too large to store (a 10^30 sequence number), or outside a variable's range
  (AGE 0-130 years).

References
----------
CDISC SDTM Implementation Guide 3.x, section 4 (ISO 8601 dates, partial dates); CDISC
Controlled Terminology (codelists AESEV C66769, NY C66742, OUT C66768, ACN C66767, SEX C66731,
NRIND C78736).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

# CDISC Controlled Terminology (values as published; compared after strip + upper-case).
SEVERITY_TERMS = ("MILD", "MODERATE", "SEVERE")  # AESEV, codelist C66769
NY_TERMS = ("Y", "N")  # AESER and other flags, codelist NY (C66742); U/NA refused: unknown is not N
OUTCOME_TERMS = ("FATAL", "NOT RECOVERED/NOT RESOLVED", "RECOVERED/RESOLVED",  # AEOUT, C66768
                 "RECOVERED/RESOLVED WITH SEQUELAE", "RECOVERING/RESOLVING", "UNKNOWN")
ACTION_TERMS = ("DOSE INCREASED", "DOSE NOT CHANGED", "DOSE RATE REDUCED",  # AEACN, C66767
                "DOSE REDUCED", "DRUG INTERRUPTED", "DRUG WITHDRAWN", "NOT APPLICABLE", "UNKNOWN")
SEX_TERMS = ("F", "M", "U", "UNDIFFERENTIATED")  # SEX, C66731
RANGE_FLAG_TERMS = ("NORMAL", "HIGH", "LOW", "ABNORMAL")  # LBNRIND, NRIND C78736
YES_TERMS = ("Y",)  # --BLFL, DTHFL: Y or blank
CTCAE_GRADES = (1, 2, 3, 4, 5)  # CTCAE v5.0: grades 1 (mild) to 5 (death related to AE)
# Plausible numbers (issue 14). No SDTM result in its standard unit comes near 10^12 (the largest
# counts, e.g. platelets, are ~10^3 in 10^9/L); beyond it a value is a corrupt export.
MAX_MAGNITUDE = 1e12
WHOLE_LIMIT = 2**31 - 1  # whole-number variables are stored as INTEGER (--SEQ, AGE, --DY)
VALUE_RANGES = {"AGE": (0, 130)}  # years (AGEU); the oldest documented human lived 122 years

_DTC_PATTERN = (
    r"\d{4}(?:-\d{2}(?:-\d{2}"
    r"(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)


@dataclass(frozen=True, slots=True)
class PlausibleDates:
    """The dates a delivery may hold: from ``earliest`` to the day of delivery + ``future_days``."""

    delivered_on: date
    future_days: int = 1
    earliest: date = date(1900, 1, 1)

    @property
    def latest(self) -> date:
        return self.delivered_on + timedelta(days=self.future_days)


class Issues:
    """The validation findings of one file: per row, the rules failed and their reasons.

    ``dates`` is the delivery's plausible date range, checked by every --DTC parse
    (:func:`iso_dates`); None checks only the form. For one chunk of a file read in chunks,
    ``duplicated`` holds the positions (index values) of every row whose key occurs more than
    once in the whole file, and :func:`duplicate_keys` leaves each row's key in ``keys``.
    """

    def __init__(self, index: pd.Index, dates: PlausibleDates | None = None,
                 duplicated: np.ndarray | None = None):
        self.index = index
        self.dates = dates
        self.duplicated = duplicated
        self.keys: pd.Series | None = None
        self._found: list[tuple[str, pd.Series]] = []  # (rule, reason text on failing rows)

    def add(self, rule: str, mask: pd.Series | np.ndarray,
            reason: str | pd.Series | Callable[[], pd.Series]) -> None:
        """Record ``reason`` for the rows where ``mask`` is true.

        ``reason`` is one text, or per-row texts (a Series, or a function returning one, called
        only when some row fails: building texts for ten million good rows costs seconds).
        """
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.index)
        if not mask.any():
            return
        if callable(reason):
            reason = reason()
        if isinstance(reason, pd.Series):
            text = reason[mask].astype("str")
        else:
            text = pd.Series(reason, index=self.index[mask.to_numpy()], dtype="str")
        self._found.append((rule, text))

    @property
    def bad(self) -> pd.Series:
        """True for rows that failed at least one rule."""
        mask = pd.Series(False, index=self.index)
        for _, text in self._found:
            mask.loc[text.index] = True
        return mask

    def reasons(self) -> pd.DataFrame:
        """One row per failing row: ``rule`` (the first rule failed), ``reason`` (all, "; ") and
        ``rules`` (every rule failed)."""
        if not self._found:
            return pd.DataFrame({"rule": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
                                 "rules": pd.Series(dtype="object")})
        long = pd.concat(
            [pd.DataFrame({"rule": rule, "reason": text}) for rule, text in self._found]
        )
        grouped = long.groupby(level=0, sort=True)
        return pd.DataFrame({"rule": grouped["rule"].first(),
                             "reason": grouped["reason"].agg("; ".join),
                             "rules": grouped["rule"].agg(lambda r: sorted(set(r)))})

    def rule_counts(self) -> dict[str, int]:
        """How many rows failed each rule (a row can count for several)."""
        return {rule: int(len(text)) for rule, text in self._found}


def missing_columns(frame: pd.DataFrame, required: Iterable[str]) -> list[str]:
    """The required SDTM variables that the file does not have, in the order given."""
    present = set(frame.columns)
    return [c for c in required if c not in present]


def text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A variable as text: stripped, blank -> missing; numbers formatted without a trailing .0.

    A column the file does not have is all missing.
    """
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="str")
    s = frame[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        out = s.astype("float64")
        # beyond 2^53 a float has no exact whole value (and Int64 would overflow): keep it a float
        whole = out.notna() & (out.abs() < 2.0**53) & (out == np.floor(out))
        as_text = out.astype("str")
        as_text = as_text.where(~whole, out.where(whole).astype("Int64").astype("str"))
        return as_text.where(out.notna()).astype("str")
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%dT%H:%M:%S").str.replace("T00:00:00", "", regex=False)
    out = s.astype("str").str.strip()
    return out.mask(out == "")


def raw_value(frame: pd.DataFrame, column: str) -> pd.Series:
    """The delivered value as quoted text for reasons: 'abc' (or blank)."""
    return "'" + text(frame, column).fillna("") + "'"


def number(frame: pd.DataFrame, column: str, issues: Issues, *, whole: bool = False,
           required: bool = False) -> pd.Series:
    """Type a numeric SDTM variable; values that are not numbers are ``wrong_type``.

    Returns float64 (or nullable Int64 when ``whole``); missing stays missing unless
    ``required``, when a blank is ``missing_value``.
    """
    if column not in frame.columns:
        values = pd.Series(np.nan, index=frame.index, dtype="float64")
    elif pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]):
        values = frame[column].astype("float64")
    else:
        given = text(frame, column)
        values = _to_float(given)
        issues.add("wrong_type", given.notna() & values.isna(),
                   lambda: column + " " + raw_value(frame, column) + " is not a number")
    values = implausible_numbers(frame, column, values, issues, whole=whole)
    if whole:
        fraction = values.notna() & (values != np.floor(values))
        issues.add("wrong_type", fraction,
                   lambda: column + " " + raw_value(frame, column) + " is not a whole number")
        values = values.where(~fraction)
    if required:
        issues.add("missing_value", values.isna() & text(frame, column).isna(),
                   f"{column} is blank")
    return values.round().astype("Int64") if whole else values


def implausible_numbers(frame: pd.DataFrame, column: str, values: pd.Series, issues: Issues,
                        *, whole: bool) -> pd.Series:
    """Flag numbers no delivery can mean (``implausible_value``) and return the rest.

    Not finite (inf, -inf, 1e400); beyond :data:`MAX_MAGNITUDE`; a whole-number variable beyond
    :data:`WHOLE_LIMIT` (a 10^30 sequence number); outside the variable's range in
    :data:`VALUE_RANGES` (AGE 0-130). Flagged values become missing, so they are never graded.
    """
    infinite = np.isinf(values)
    issues.add("implausible_value", infinite,
               lambda: column + " " + raw_value(frame, column) + " is not a finite number")
    limit = WHOLE_LIMIT if whole else MAX_MAGNITUDE
    huge = ~infinite & (values.abs() > limit)
    issues.add("implausible_value", huge,
               lambda: column + " " + raw_value(frame, column) + f" is beyond {limit:.0e}"
               " (implausible)")
    bad = infinite | huge
    if column in VALUE_RANGES:
        low, high = VALUE_RANGES[column]
        outside = ~bad & values.notna() & ((values < low) | (values > high))
        issues.add("implausible_value", outside,
                   lambda: column + " " + raw_value(frame, column) + f" is outside {low}-{high}")
        bad = bad | outside
    return values.where(~bad)


def terms(frame: pd.DataFrame, column: str, allowed: Iterable[str], issues: Issues,
          *, codelist: str) -> pd.Series:
    """A controlled-terminology variable, upper-cased; values outside ``allowed`` are flagged."""
    values = text(frame, column).str.upper()
    allowed = tuple(allowed)
    unknown = values.notna() & ~values.isin(allowed)
    issues.add("unknown_term", unknown,
               lambda: column + " " + raw_value(frame, column) + f" is not in the {codelist} terms ("
               + ", ".join(allowed) + ")")
    return values


def flag(frame: pd.DataFrame, column: str, issues: Issues) -> pd.Series:
    """A Y-or-blank flag (--BLFL, DTHFL) as a boolean; other values are ``unknown_term``."""
    return terms(frame, column, YES_TERMS, issues, codelist="Y/blank flag").eq("Y")


def iso_dates(frame: pd.DataFrame, column: str, issues: Issues) -> pd.DataFrame:
    """Parse an ISO 8601 --DTC variable, keeping partial dates.

    Returns a frame with ``dtc`` (the text as given, stripped; missing when blank),
    ``precision`` ('day', 'month', 'year' or missing), ``low`` (earliest possible day) and
    ``high`` (latest possible day), both datetime64. A value that is not ISO 8601 (or names a
    day that does not exist) is ``wrong_type`` and gets no dates.

    References
    ----------
    SDTMIG 3.x section 4.4.4 (ISO 8601 dates; right-truncated partial dates such as 2012-07).
    """
    dtc = text(frame, column)
    # The pattern checks the form (vectorised in Arrow); the fixed positions give the parts.
    form_ok = dtc.str.fullmatch(_DTC_PATTERN).fillna(False).astype(bool)
    length = dtc.str.len()
    year = dtc.str.slice(0, 4).where(form_ok)
    month = dtc.str.slice(5, 7).where(form_ok & (length >= 7))
    day = dtc.str.slice(8, 10).where(form_ok & (length >= 10))
    low = pd.to_datetime(year + "-" + month.fillna("01") + "-" + day.fillna("01"),
                         format="%Y-%m-%d", errors="coerce")
    bad = dtc.notna() & low.isna()
    issues.add("wrong_type", bad,
               lambda: column + " " + raw_value(frame, column) + " is not an ISO 8601 date")
    precision = pd.Series(np.select([day.notna(), month.notna(), year.notna()],
                                    ["day", "month", "year"], default=""), index=frame.index)
    precision = precision.mask(precision.eq("") | bad).astype("str")
    high = low.copy()
    by_month = precision.eq("month")
    high[by_month] = low[by_month] + pd.offsets.MonthEnd(0)
    by_year = precision.eq("year")
    high[by_year] = low[by_year] + pd.offsets.YearEnd(0)
    dates = pd.DataFrame({"dtc": dtc, "precision": precision, "low": low, "high": high})
    if issues.dates is not None:
        dates = implausible_dates(dates, column, issues)
    return dates


def implausible_dates(dates: pd.DataFrame, column: str, issues: Issues) -> pd.DataFrame:
    """Flag --DTC values before 1900 or after the delivery date + tolerance (``implausible_date``).

    A date no event of the trial can have (9999-12-31 is an EDC placeholder) would move the
    study's data cut-off and every window computed from it; the row is quarantined and its dates
    are dropped. A partial date counts by its earliest possible day.
    """
    plausible = issues.dates
    early = dates["low"] < pd.Timestamp(plausible.earliest)
    late = dates["low"] > pd.Timestamp(plausible.latest)
    issues.add("implausible_date", early,
               lambda: column + " '" + dates["dtc"].fillna("") + "' is before "
               + plausible.earliest.isoformat())
    issues.add("implausible_date", late,
               lambda: column + " '" + dates["dtc"].fillna("") + "' is after the delivery ("
               + plausible.delivered_on.isoformat() + f", + {plausible.future_days} day(s))")
    bad = early | late
    if not bad.any():
        return dates
    out = dates.copy()
    out.loc[bad, ["low", "high"]] = pd.NaT
    out.loc[bad, "precision"] = np.nan
    return out


def full_date(dates: pd.DataFrame, column: str, issues: Issues, *, required: bool) -> pd.Series:
    """A date that must be complete (e.g. EXSTDTC): partial values are ``wrong_type``."""
    partial = dates["precision"].isin(["month", "year"])
    issues.add("wrong_type", partial,
               lambda: column + " '" + dates["dtc"].fillna("")
               + "' is a partial date; a full date is needed")
    if required:
        issues.add("missing_value", dates["dtc"].isna(), f"{column} is blank")
    return dates["low"].where(dates["precision"].eq("day"))


def end_before_start(start: pd.DataFrame, end: pd.DataFrame, start_col: str, end_col: str,
                     issues: Issues) -> None:
    """Flag rows whose latest possible end is before their earliest possible start."""
    wrong = end["high"].notna() & start["low"].notna() & (end["high"] < start["low"])
    issues.add("end_before_start", wrong,
               lambda: end_col + " '" + end["dtc"].fillna("") + "' is before " + start_col + " '"
               + start["dtc"].fillna("") + "'")


def duplicate_keys(frame: pd.DataFrame, keys: list[str], issues: Issues) -> None:
    """Flag every row whose key occurs more than once in the file."""
    key_text = pd.DataFrame({k: text(frame, k).fillna("") for k in keys})
    dup = key_text.duplicated(keep=False)
    if issues.duplicated is not None:  # a chunk: the file's other chunks count too
        dup = dup | frame.index.isin(issues.duplicated)
        issues.keys = key_text[keys[0]]
        for k in keys[1:]:
            issues.keys = issues.keys + "\x1f" + key_text[k]
    if dup.any():
        label = " + ".join(keys)
        values = key_text[keys[0]]
        for k in keys[1:]:
            values = values + " / " + key_text[k]
        issues.add("duplicate_key", dup, "duplicate key " + label + " = " + values)


def in_dm(usubjid: pd.Series, subjects: pd.Index, issues: Issues, *, dm_loaded: bool) -> None:
    """Flag records of subjects that are not in the study's current DM."""
    missing = usubjid.notna() & ~usubjid.isin(subjects)
    note = "" if dm_loaded else " (no DM has been delivered for this study yet)"
    issues.add("not_in_dm", missing, lambda: "USUBJID '" + usubjid.fillna("") + "' is not in DM" + note)


def _to_float(given: pd.Series) -> pd.Series:
    """Text -> float64; what is not a number becomes missing.

    Arrow's cast is tried first (fast, all-or-nothing); a column with any non-number falls back
    to pandas' per-value coercion.
    """
    try:
        arr = pc.cast(pa.array(given, type=pa.string(), from_pandas=True), pa.float64())
        return pd.Series(arr.to_numpy(zero_copy_only=False), index=given.index, dtype="float64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(given, errors="coerce").astype("float64")
