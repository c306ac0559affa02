"""One patient's whole story at a data cut-off: the patient profile's data, and its reviews.

:func:`load_profile` gathers everything the profile shows in one pass over the database (one
query per domain, each filtered on the study and the subject: see ``queries`` section
``patient``) and grades the patient's lab results by CTCAE v5.0. The frames it returns are
what the page, the narrative (``safety.monitor.narrative``) and the tests read; nothing here imports
streamlit.

Time on the profile is counted one way, everywhere (the timeline's axis, listings, the
narrative, the DLT rule's ``onset_day``): the **study day** (SDTM --DY), the first dose is day 1,
the day before it day -1; there is no day 0. The DLT window of ``window_days`` days covers days
1 to ``window_days``.

Review status and notes (reviewed / needs follow-up, with a note, who and when) are kept in
``subject_review``, append-only: the newest row is the current review, the others its history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from safety import store
from safety.access import Action, User, require
from safety.config import StudyConfig
from safety.errors import ReviewError
from safety.store import queries

# The key tests of the profile's small multiples, in the order a monitor reads them: liver,
# kidney, blood counts, coagulation.
KEY_LAB_TESTS = ("ALT", "AST", "BILI", "ALP", "CREAT", "HGB", "PLAT", "WBC", "NEUT", "INR")
VITAL_TESTS = ("TEMP", "SYSBP", "DIABP", "PULSE")
REVIEW_STATUSES = ("not reviewed", "reviewed", "needs follow-up")  # schema.sql subject_review
DLT_STATE_TEXT = {
    "not treated": "not treated",
    "pending": "pending",
    "evaluable": "evaluable (window completed without DLT)",
    "DLT": "DLT",
    "not evaluable": "not evaluable",
}


@dataclass(frozen=True)
class PatientProfile:
    """Everything the patient profile shows, at one cut-off.

    ``subject`` and ``dlt_state`` are single records as dicts (dates as ``datetime.date``);
    the rest are frames with the columns of their ``queries.patient_*`` function, and
    ``labs`` also has the stored CTCAE grade columns (``queries.patient.patient_labs``) plus
    ``worst_grade`` (0-4, missing = cannot grade) and ``ctcae_term`` (the term of the worst
    grade's direction).
    """

    study_id: str
    usubjid: str
    cutoff: date
    window_days: int | None  # None: the study has no DLT definition
    subject: dict
    dlt_state: dict
    adverse_events: pd.DataFrame
    labs: pd.DataFrame
    vital_signs: pd.DataFrame
    exposure: pd.DataFrame
    dlt_events: pd.DataFrame
    audit: pd.DataFrame
    reviews: pd.DataFrame = field(repr=False)

    @property
    def first_dose_date(self) -> date | None:
        """The first dose, when it was on or before the cut-off."""
        first = self.subject.get("first_dose_date")
        return first if first is not None and first <= self.cutoff else None

    @property
    def last_contact(self) -> date:
        """The last day the study knows of the patient: end of study or death when on or
        before the cut-off, else the cut-off (an AE without end date is drawn to here)."""
        ends = [d for d in (self.subject.get("end_of_study_date"), self.subject.get("death_date"))
                if isinstance(d, date) and d <= self.cutoff]  # fmt: skip
        return min(ends, default=self.cutoff)

    @property
    def current_review(self) -> dict | None:
        """The newest review (status, note, reviewed_by, reviewed_at), None when never reviewed."""
        return None if self.reviews.empty else _record(self.reviews.iloc[0])

    def timeline_events(self) -> dict[str, pd.DataFrame]:
        """The timeline's frames, on the axis of study days (first dose = day 1, no day 0).

        Keys and columns:

        - ``ae``: seq, label, pt, grade, serious, related, causality, outcome, start, end
          (inclusive; when missing, the day of the last contact), ongoing, dlt_status (NA when not a
          candidate), start_date, end_date;
        - ``dosing``: day, label, start_date;
        - ``dlt``: day, label (the timeline row: the AE's, "Lab DLT · <term>" for a lab-based
          candidate, :data:`MANUAL_DLT_ROW` for one added by hand), term, dlt_status, source;
        - ``visits``: day, visit, date.

        Empty frames when the patient was not dosed by the cut-off.
        """
        first = self.first_dose_date
        if first is None:
            return {k: pd.DataFrame() for k in ("ae", "dosing", "dlt", "visits")}
        ae = self.adverse_events.copy()
        ae["label"] = [ae_label(s, p) for s, p in zip(ae["seq"], ae["pt"], strict=True)]
        ae["start"] = study_days(ae["start_date"], first)
        last_day = study_day(self.last_contact, first)
        ae["end"] = study_days(ae["end_date"], first).fillna(last_day).astype("Int64")
        ae_dlt = self.dlt_events[self.dlt_events["source"] == "adverse_event"]
        status = dict(zip(ae_dlt["source_seq"].astype(int), ae_dlt["dlt_status"], strict=True))
        ae["dlt_status"] = pd.array([status.get(int(s)) for s in ae["seq"]], dtype="str")

        dosing = pd.DataFrame(
            {
                "day": study_days(self.exposure["start_date"], first),
                "label": [
                    f"{t} {d:g} {u}" if pd.notna(d) else str(t)
                    for t, d, u in zip(
                        self.exposure["treatment"],
                        self.exposure["dose"],
                        self.exposure["dose_unit"],
                        strict=True,
                    )
                ],
                "start_date": self.exposure["start_date"],
            }
        )
        if dosing.empty:  # no EX records: DM's first dose is the dosing day
            dosing = pd.DataFrame({"day": [1], "label": ["first dose"], "start_date": [first]})

        dlt = self.dlt_events.copy()
        labels = dict(zip(ae["seq"].astype(int), ae["label"], strict=True))
        dlt["label"] = [
            labels.get(int(seq), MANUAL_DLT_ROW)
            if src == "adverse_event"
            else (f"Lab DLT · {term}" if src == "lab" else MANUAL_DLT_ROW)
            for src, seq, term in zip(dlt["source"], dlt["source_seq"], dlt["term"], strict=True)
        ]
        dlt["day"] = study_days(dlt["onset_date"], first)
        dlt = dlt[["day", "label", "term", "dlt_status", "source"]]

        return {
            "ae": ae[
                [
                    "seq",
                    "label",
                    "pt",
                    "grade",
                    "serious",
                    "related",
                    "causality",
                    "outcome",
                    "start",
                    "end",
                    "ongoing",
                    "dlt_status",
                    "start_date",
                    "end_date",
                ]
            ],
            "dosing": dosing,
            "dlt": dlt,
            "visits": self.visits(),
        }

    def with_days(self, frame: pd.DataFrame, column: str = "collected_date") -> pd.DataFrame:
        """``frame`` with a column ``day``: the study day (first dose = day 1, no day 0) of
        ``column``; missing when the patient was not dosed by the cut-off."""
        first = self.first_dose_date
        out = frame.copy()
        out["day"] = (
            study_days(out[column], first)
            if first is not None
            else pd.array([pd.NA] * len(out), dtype="Int64")
        )
        return out

    def time_range(self, window_only: bool = False) -> tuple[float, float] | None:
        """The x range of the profile's charts in study days: the whole course (from the
        earliest record to the cut-off), or the DLT window; None when not dosed."""
        first = self.first_dose_date
        if first is None:
            return None
        cutoff_day = study_day(self.cutoff, first)
        if window_only and self.window_days is not None:
            return (-3.5, min(self.window_days + 3, cutoff_day + 3) + 0.5)
        starts = [1]
        for frame, column in (
            (self.labs, "collected_date"),
            (self.vital_signs, "collected_date"),
            (self.adverse_events, "start_date"),
        ):
            if not frame.empty:
                starts.append(int(study_days(frame[column], first).min()))
        return (min(starts) - 3.5, cutoff_day + 4.5)

    def visits(self) -> pd.DataFrame:
        """Study visits: the days with lab or vital-sign collections (study days).

        Columns: day, visit (the visit names of that day, joined), date.
        """
        first = self.first_dose_date
        parts = [
            f[["collected_date", "visit"]] for f in (self.labs, self.vital_signs) if not f.empty
        ]
        if first is None or not parts:
            return pd.DataFrame({"day": [], "visit": [], "date": []})
        both = pd.concat(parts).dropna(subset=["collected_date"])
        both["visit"] = both["visit"].fillna("unnamed visit")
        days = (
            both.groupby("collected_date", sort=True)["visit"]
            .agg(lambda v: " / ".join(dict.fromkeys(v)))
            .reset_index()
        )
        return pd.DataFrame(
            {
                "day": study_days(days["collected_date"], first),
                "visit": days["visit"],
                "date": days["collected_date"],
            }
        )

    def lab_abnormalities(self, min_grade: int = 2) -> pd.DataFrame:
        """Per CTCAE term, the patient's worst lab result of grade >= ``min_grade``.

        The worst result is the highest grade, the earliest on a tie. Columns: ctcae_term,
        test_code, test_name, worst_grade, value, unit, x_uln, collected_date, study_day,
        visit, seq, results (how many results of the term reached ``min_grade``).
        """
        labs = self.labs
        hits = labs[labs["worst_grade"].fillna(0) >= min_grade].copy()
        columns = [
            "ctcae_term",
            "test_code",
            "test_name",
            "worst_grade",
            "value",
            "unit",
            "x_uln",
            "collected_date",
            "study_day",
            "visit",
            "seq",
            "results",
        ]
        if hits.empty:
            return pd.DataFrame(columns=columns)
        hits["results"] = hits.groupby("ctcae_term")["seq"].transform("size")
        hits = hits.sort_values(["worst_grade", "collected_date"], ascending=[False, True])
        return hits.drop_duplicates("ctcae_term")[columns].reset_index(drop=True)


MANUAL_DLT_ROW = "DLT added by adjudication"


def ae_label(seq: int, pt: str, width: int = 38) -> str:
    """The timeline row of an adverse event: ``"AE 5 · Pelvic inflammatory disease"``."""
    text = pt if len(pt) <= width else pt[: width - 1] + "…"
    return f"AE {int(seq)} · {text}"


def study_days(dates: pd.Series, first_dose: date) -> pd.Series:
    """SDTM study days (--DY) of dates as nullable integers: the first dose day is day 1, the
    day before it day -1; there is no day 0.

    References
    ----------
    CDISC SDTMIG 3.x, section 4.4.4 (study day variables).
    """
    delta = pd.Series((pd.to_datetime(dates) - pd.Timestamp(first_dose)).dt.days,
                      index=dates.index).astype("Int64")
    return delta.where(delta < 0, delta + 1)


def study_day(day: date, first_dose: date) -> int:
    """The SDTM study day of one date (first dose day = 1, no day 0)."""
    delta = (day - first_dose).days
    return delta + 1 if delta >= 0 else delta


def load_profile(
    con: duckdb.DuckDBPyConnection, config: StudyConfig, usubjid: str, cutoff: date
) -> PatientProfile | None:
    """Everything about one patient at the cut-off; None when the study has no such subject.

    Parameters
    ----------
    con : DuckDBPyConnection
        A connection (read-only is enough).
    config : StudyConfig
        The study's configuration (its DLT definition decides the DLT window and candidates).
    usubjid : str
        The subject (DM.USUBJID).
    cutoff : date
        Records dated after it are left out; the DLT state is as it stood then.
    """
    study_id = config.study_id
    subject = queries.patient.patient_subject(con, study_id, usubjid, cutoff)
    if subject.empty:
        return None
    state = queries.patient.patient_dlt_state(con, study_id, usubjid, cutoff)
    return PatientProfile(
        study_id=study_id,
        usubjid=usubjid,
        cutoff=cutoff,
        window_days=config.dlt.window_days if config.dlt else None,
        subject=_record(subject.iloc[0]),
        dlt_state=_record(state.iloc[0]) if not state.empty else {},
        adverse_events=queries.patient.patient_adverse_events(con, study_id, usubjid, cutoff),
        labs=grade_labs(queries.patient.patient_labs(con, study_id, usubjid, cutoff)),
        vital_signs=queries.patient.patient_vital_signs(con, study_id, usubjid, cutoff),
        exposure=queries.patient.patient_exposure(con, study_id, usubjid, cutoff),
        dlt_events=queries.patient.patient_dlt_events(con, study_id, usubjid, cutoff),
        audit=queries.patient.patient_audit(con, study_id, usubjid),
        reviews=queries.patient.subject_reviews(con, study_id, usubjid),
    )


def grade_labs(labs: pd.DataFrame) -> pd.DataFrame:
    """The patient's graded lab results (``queries.patient.patient_labs``) with ``ctcae_term``: the
    term of the direction that gave the worst grade (e.g. "Alanine aminotransferase increased").
    """
    low = labs["grade_low"].astype("Float64").fillna(-1).to_numpy()
    high = labs["grade_high"].astype("Float64").fillna(-1).to_numpy()
    graded = labs.assign(worst_grade=labs["worst_grade"].astype("Int8"))
    graded["ctcae_term"] = pd.array(
        np.where(low > high, labs["term_low"].to_numpy(object), labs["term_high"].to_numpy(object)),
        dtype="str",
    )
    return graded


def neighbours(roster: pd.DataFrame, usubjid: str) -> tuple[str | None, str | None]:
    """(previous, next) patient of the same cohort in the roster's order (None at the ends).

    ``roster`` is ``queries.subjects.study_roster``: usubjid and cohort_id, in the order to step through.
    """
    match = roster.index[roster["usubjid"] == usubjid]
    if len(match) == 0:
        return None, None
    cohort = roster.loc[match[0], "cohort_id"]
    same = roster[
        (roster["cohort_id"] == cohort) if pd.notna(cohort) else roster["cohort_id"].isna()
    ]["usubjid"].tolist()
    i = same.index(usubjid)
    return (same[i - 1] if i > 0 else None), (same[i + 1] if i + 1 < len(same) else None)


def dlt_window_text(state: dict, window_days: int) -> str:
    """The DLT-window state in words: ``"pending: 12 days left of 28 (the window ends on
    2021-01-27)"``, ``"1 day left"``; the other states with the rule's reason."""
    name = state.get("dlt_state")
    if not name:
        return "unknown"
    text = DLT_STATE_TEXT.get(name, name)
    end = state.get("window_end")
    if name == "pending":
        left = state.get("days_left")
        days = (f"{int(left)} day{'' if int(left) == 1 else 's'} left of {window_days}"
                if left is not None else f"{window_days}-day window")
        return f"{text}: {days} (the window ends on {end})"
    if name == "DLT":
        dlts = int(state.get("dlts") or 0)
        return (
            f"DLT ({dlts} event{'s' if dlts != 1 else ''} counted in the {window_days}-day window)"
        )
    reason = state.get("state_reason")
    return f"{text}: {reason}" if reason and name in ("not evaluable", "evaluable") else text


def window_end_text(window_end: date, cutoff: date) -> str:
    """``"The DLT window ended on 2021-01-27"`` when that day is on or before the cut-off,
    ``"The DLT window ends on 2021-02-03"`` when it is after it."""
    verb = "ended" if window_end <= cutoff else "ends"
    return f"The DLT window {verb} on {window_end}"


def audit_history(audit: pd.DataFrame) -> pd.DataFrame:
    """The patient's audit log as a reader wants it: one row per entry, newest first.

    Columns: when, who, action, what (term or review status), decision, reason or note.
    """
    rows = []
    for entry in audit.itertuples():  # a patient has a handful of entries
        try:
            detail = json.loads(entry.detail)
        except (TypeError, ValueError):
            detail = {}
        rows.append(
            {
                "when": entry.logged_at,
                "who": entry.actor,
                "action": entry.action,
                "what": detail.get("term") or detail.get("status") or "",
                "decision": detail.get("decision") or detail.get("status") or "",
                "previous": detail.get("previous_status") or detail.get("previous") or "",
                "reason or note": detail.get("reason") or detail.get("note") or "",
            }
        )
    return pd.DataFrame(
        rows,
        columns=["when", "who", "action", "what", "decision", "previous", "reason or note"],
    )


def record_review(
    db: str | Path | None,
    study_id: str,
    usubjid: str,
    status: str,
    note: str | None,
    user: User,
    *,
    at: datetime | None = None,
) -> int:
    """Record a review of a patient (status and note) with an audit-log entry; returns its id.

    The review and its audit entry (action ``review.record``) are written in one transaction.

    Parameters
    ----------
    db : path or None
        The database (``store.resolve_db_path``).
    study_id, usubjid : str
        The study and the subject (DM.USUBJID).
    status : {"not reviewed", "reviewed", "needs follow-up"}
    note : str or None
        Free text; blank is stored as NULL.
    user : User
        Who reviewed: a safety officer, or an investigator of the patient's site.
    at : datetime, optional
        When (UTC); default now.

    Raises
    ------
    ReviewError
        An unknown status, or a subject that is not in the study.
    AccessDenied
        The user may not review this patient.
    """
    if status not in REVIEW_STATUSES:
        raise ReviewError(f"status must be one of {', '.join(REVIEW_STATUSES)}, got {status!r}")
    note = (note or "").strip() or None
    at = at or store.now()
    with store.write_connection(db) as con:
        exists, site = queries.subjects.subject_site(con, study_id, usubjid)
        if not exists:
            raise ReviewError(f"no subject {usubjid!r} in study {study_id}")
        actor = require(user, Action.REVIEW_PATIENT, study_id, site=site, subject=usubjid).id
        previous = queries.patient.subject_reviews(con, study_id, usubjid)
        review_id = queries.patient.record_subject_review(
            con,
            study_id=study_id,
            usubjid=usubjid,
            status=status,
            note=note,
            reviewed_by=actor,
            reviewed_at=at,
        )
        detail = {
            "review_id": review_id,
            "status": status,
            "previous": None if previous.empty else str(previous["status"].iloc[0]),
            "note": note,
        }
        queries.database.record_audit(
            con,
            actor=actor,
            action="review.record",
            detail=json.dumps(detail),
            at=at,
            study_id=study_id,
            usubjid=usubjid,
        )
    return review_id


def _record(row: pd.Series) -> dict:
    """A frame row as a plain dict: dates as ``date``, timestamps kept, missing as None."""
    out = {}
    for key, value in row.items():
        if value is pd.NaT or (not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(value)):
            out[key] = None
        elif isinstance(value, pd.Timestamp):
            is_date = value == value.normalize() and not key.endswith("_at")
            out[key] = value.date() if is_date else value.to_pydatetime()
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out
