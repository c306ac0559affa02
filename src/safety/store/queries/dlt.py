"""DLT questions, asked of the DLT rule's table macros (``dlt_event``, ``subject_dlt_state``;
the rule and its SQL are in :mod:`safety.clinical.dlt`), and the adjudications that override it.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from safety.store.queries.database import one_row
from safety.store.queries.signatures import SIGNATURE_TEXT

# Text columns of the subjects' states as Python objects: the escalation slices these small
# frames many times (once a day in the decision history), and Arrow strings cost more there.
_AS_OBJECTS = {"usubjid": object, "cohort_id": object, "dlt_state": object}


def dlt_events(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """DLT candidates and adjudicated DLTs at the cut-off, one row per event.

    Columns: study_id, usubjid, cohort_id, source, source_seq, term, onset_date, onset_day,
    grade, dlt_rule (the protocol rule that made it a candidate), dlt_status (candidate |
    confirmed | rejected | added), adjudication_reason, decided_by, decided_at, signature_id,
    signature (the adjudicator's name, time and meaning).
    Adjudications recorded after ``adjudicated_by`` are ignored (default: none is).
    """
    return con.execute(
        f"""
        SELECT d.*, s.cohort_id, {SIGNATURE_TEXT} AS signature
        FROM dlt_event($study_id, $cutoff, known_by := $known_by) d
        JOIN current_subject s USING (study_id, usubjid)
        LEFT JOIN signature g USING (signature_id)
        ORDER BY d.onset_date, d.usubjid""",
        {"study_id": study_id, "cutoff": cutoff, "known_by": adjudicated_by},
    ).df()


def subject_dlt_states(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """Every subject's DLT-window state at the cut-off.

    Columns: usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,
    dlt_state (not treated | pending | evaluable | DLT | not evaluable), days_left,
    state_reason (why, in words), left_on (the day she left before her window ended),
    received_fraction (dose received in the window / planned; NULL for control).
    """
    return con.execute(
        """
        SELECT usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,
               dlt_state, days_left, state_reason, left_on, received_fraction
        FROM subject_dlt_state($study_id, $cutoff, known_by := $known_by)
        ORDER BY cohort_id, first_dose_date, usubjid""",
        {"study_id": study_id, "cutoff": cutoff, "known_by": adjudicated_by},
    ).df().astype(_AS_OBJECTS)


def subject_dlt_states_by_day(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    days: list[date],
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """Every subject's DLT-window state at each of ``days``, in one query (the decision history),
    with the adjudications recorded by the end of each day (and by ``adjudicated_by``).

    Columns: cutoff, usubjid, cohort_id, first_dose_date, treated, window_end, dlt_state (what
    the decisions read: 1,466 days x 2,000 subjects is 2.9M rows on a large study). Through
    Arrow: 2.9M rows in 2.0 s, against 4.9 s by ``.df()``, which builds a Python string per value.
    """
    return con.sql(
        """
        SELECT cutoff, usubjid, cohort_id, first_dose_date, treated, window_end, dlt_state
        FROM subject_dlt_state_days($study_id, $days, known_by := $known_by, by_day := true)
        ORDER BY cutoff, first_dose_date, usubjid""",
        params={"study_id": study_id, "days": list(days), "known_by": adjudicated_by},
    ).to_arrow_table().to_pandas(date_as_object=False)


def record_adjudication(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    usubjid: str,
    source: str,
    source_seq: int | None,
    decision: str,
    reason: str,
    decided_by: str,
    decided_at: datetime,
    signature_id: int,
    onset_date: date | None = None,
    description: str | None = None,
) -> int:
    """Append one adjudication of a DLT candidate (or of a DLT added by hand), with the id of
    its signature; returns its id."""
    return int(
        one_row(
            con,
            """
            INSERT INTO dlt_adjudication (study_id, usubjid, source, source_seq, decision, reason,
                                          onset_date, description, decided_by, decided_at,
                                          signature_id)
            VALUES ($study_id, $usubjid, $source, $source_seq, $decision, $reason, $onset_date,
                    $description, $decided_by, $decided_at, $signature_id)
            RETURNING adjudication_id""",
            {
                "study_id": study_id,
                "usubjid": usubjid,
                "source": source,
                "source_seq": source_seq,
                "decision": decision,
                "reason": reason,
                "onset_date": onset_date,
                "description": description,
                "decided_by": decided_by,
                "decided_at": decided_at,
                "signature_id": signature_id,
            },
        )[0]
    )


def subject_first_dose(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str
) -> tuple[bool, date | None]:
    """(the subject exists in the study, their first dose date or None)."""
    row = one_row(
        con,
        "SELECT first_dose_date FROM current_subject WHERE study_id = $study_id AND usubjid = $usubjid",
        {"study_id": study_id, "usubjid": usubjid},
    )
    if row is None:
        return False, None
    first = row[0]
    return True, (first.date() if isinstance(first, datetime) else first)


def next_manual_dlt_seq(con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str) -> int:
    """The sequence number for a new DLT added by hand to a subject (1, 2, ...)."""
    return int(
        one_row(
            con,
            """
            SELECT coalesce(max(source_seq), 0) + 1 FROM dlt_adjudication
            WHERE study_id = $study_id AND usubjid = $usubjid AND source = 'manual'""",
            {"study_id": study_id, "usubjid": usubjid},
        )[0]
    )


def manual_dlt(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, source_seq: int
) -> tuple[date, str] | None:
    """(onset date, description) of a DLT added by hand, or None when there is no such DLT."""
    return one_row(
        con,
        """
        SELECT onset_date, description FROM dlt_adjudication
        WHERE study_id = $study_id AND usubjid = $usubjid AND source = 'manual'
          AND source_seq = $seq AND decision = 'added'
        ORDER BY adjudication_id LIMIT 1""",
        {"study_id": study_id, "usubjid": usubjid, "seq": source_seq},
    )


def adjudications(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str | None = None
) -> pd.DataFrame:
    """Every adjudication recorded for a study (or one subject), newest first.

    Columns: adjudication_id, usubjid, source, source_seq, decision, reason, onset_date,
    description, decided_by, decided_at, signature (name, time and meaning).
    """
    return con.execute(
        f"""
        SELECT a.adjudication_id, a.usubjid, a.source, a.source_seq, a.decision, a.reason,
               a.onset_date, a.description, a.decided_by, a.decided_at,
               {SIGNATURE_TEXT} AS signature
        FROM dlt_adjudication a LEFT JOIN signature g USING (signature_id)
        WHERE a.study_id = $study_id AND ($usubjid IS NULL OR a.usubjid = $usubjid)
        ORDER BY a.decided_at DESC, a.adjudication_id DESC""",
        {"study_id": study_id, "usubjid": usubjid},
    ).df()


def dlt_change_dates(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """Every day up to the cut-off on which the data behind the escalation changed: a first
    dose, a DLT onset (candidates, confirmed and added DLTs; not rejected ones), the last day of
    a DLT window, a patient of a dose cohort leaving before the end of the window.

    Columns: day (DATE), usubjid, cohort_id, event ('first dose' | 'DLT' | 'window closed' |
    'left the study'), detail. Ordered by day.
    """
    return con.execute(
        """
        WITH subj AS (
            SELECT s.*, d.departure_date, d.departure_reason
            FROM dlt_subject($study_id) s
            LEFT JOIN subject_departure($study_id) d USING (usubjid)
        )
        SELECT day, usubjid, cohort_id, event, detail FROM (
            SELECT first_dose_date AS day, usubjid, cohort_id, 'first dose' AS event,
                   '' AS detail
            FROM subj WHERE first_dose_date <= $cutoff
            UNION ALL
            SELECT d.onset_date, d.usubjid, s.cohort_id, 'DLT',
                   d.term || ' (' || d.dlt_status || ')'
            FROM dlt_event($study_id, $cutoff, known_by := $known_by) d
            JOIN current_subject s USING (study_id, usubjid)
            WHERE d.dlt_status IN ('candidate', 'confirmed', 'added')
            UNION ALL
            SELECT window_end, usubjid, cohort_id, 'window closed', ''
            FROM subj WHERE window_end <= $cutoff
            UNION ALL
            SELECT departure_date, usubjid, cohort_id, 'left the study', departure_reason
            FROM subj WHERE departure_date <= $cutoff AND departure_date < window_end
        )
        ORDER BY day, usubjid, event""",
        {"study_id": study_id, "cutoff": cutoff, "known_by": adjudicated_by},
    ).df()


def ae_dlt_verdicts(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, cohort_id: str | None = None
) -> pd.DataFrame:
    """The DLT rule's verdict on every AE of a dosed subject of a dose cohort (or of one
    cohort) at the cut-off (macro ``ae_dlt_verdict``).

    Columns: usubjid, cohort_id, seq, pt, start_date, start_at, onset_day (SDTM study day),
    grade, causality, is_candidate, dlt_rule (for candidates), not_dlt_reason (the others).
    """
    return con.execute(
        """
        SELECT usubjid, cohort_id, seq, pt, start_date, start_at, onset_day, grade, causality,
               is_candidate, CASE WHEN is_candidate THEN dlt_rule END AS dlt_rule,
               not_dlt_reason
        FROM ae_dlt_verdict($study_id, $cutoff)
        WHERE $cohort_id IS NULL OR cohort_id = $cohort_id
        ORDER BY usubjid, start_date, seq""",
        {"study_id": study_id, "cutoff": cutoff, "cohort_id": cohort_id},
    ).df()
