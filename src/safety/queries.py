"""Every SQL statement the product runs (the DDL is in ``schema.sql``).

One function per question, named for the question, returning a DataFrame whose columns the
docstring lists. Values always go in as parameters; identifiers (table names) come only from
the fixed sets below, never from user input.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from safety.config import DltDefinition
from safety.labmap import lbtestcd_for_term

# Tables a frame may be appended to, with the columns a loader must provide.
LOADABLE_TABLES = frozenset(
    {
        "ingest_batch",
        "study",
        "cohort",
        "subject",
        "exposure",
        "adverse_event",
        "lab",
        "vital_sign",
        "quarantine",
        "dlt_adjudication",
        "audit_log",
        "snapshot",
    }
)


def _one_row(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple | None:
    """The first row of a query; fetches all rows so the connection is free afterwards (duckdb 2)."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0] if rows else None


# --- schema and versions -------------------------------------------------------------------


def stamp_schema_version(con: duckdb.DuckDBPyConnection, version: int, at: datetime) -> None:
    """Record the schema version of a newly created database."""
    con.execute("INSERT INTO schema_version VALUES ($version, $at)", {"version": version, "at": at})


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version stamped in the database (None when the table is empty)."""
    return _one_row(con, "SELECT max(version) FROM schema_version")[0]


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """A key that changes whenever data or decisions change: (last batch id, last audit id)."""
    row = _one_row(
        con,
        "SELECT (SELECT coalesce(max(batch_id), 0) FROM ingest_batch),"
        "       (SELECT coalesce(max(audit_id), 0) FROM audit_log)",
    )
    return int(row[0]), int(row[1])


def last_change(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the data last changed: the latest loaded batch or audited decision (UTC)."""
    return _one_row(
        con,
        "SELECT greatest((SELECT max(loaded_at) FROM ingest_batch WHERE status = 'loaded'),"
        "                (SELECT max(logged_at) FROM audit_log))",
    )[0]


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Current rows (superseded data cuts left out) in each clinical table, all studies."""
    row = _one_row(
        con,
        """
        SELECT (SELECT count(*) FROM current_subject), (SELECT count(*) FROM current_exposure),
               (SELECT count(*) FROM current_adverse_event), (SELECT count(*) FROM current_lab),
               (SELECT count(*) FROM current_vital_sign)""",
    )
    return dict(
        zip(("subject", "exposure", "adverse_event", "lab", "vital_sign"), row, strict=True)
    )


# --- writing ---------------------------------------------------------------------------------


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Append ``frame`` to ``table`` by column name; returns the number of rows inserted.

    Columns of the table missing from the frame take their defaults. ``table`` must be one of
    :data:`LOADABLE_TABLES`; column names are checked against the table's own columns.
    """
    if table not in LOADABLE_TABLES:
        raise ValueError(f"not a loadable table: {table!r}")
    known = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t", {"t": table}
        ).fetchall()
    }
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise ValueError(f"{table} has no columns {unknown}")
    if frame.empty:
        return 0
    columns = ", ".join(f'"{c}"' for c in frame.columns)  # names checked against the catalog above
    con.register("_frame_to_insert", frame)
    try:
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _frame_to_insert")
    finally:
        con.unregister("_frame_to_insert")
    return len(frame)


def next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    """Reserve the id of a new ingest batch."""
    return int(_one_row(con, "SELECT nextval('batch_id_seq')")[0])


def record_audit(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    detail: str,
    at: datetime,
    study_id: str | None = None,
    usubjid: str | None = None,
) -> int:
    """Append one entry to the audit log; returns its id."""
    return int(
        _one_row(
            con,
            "INSERT INTO audit_log (logged_at, actor, action, study_id, usubjid, detail) "
            "VALUES ($at, $actor, $action, $study_id, $usubjid, $detail) RETURNING audit_id",
            {
                "at": at,
                "actor": actor,
                "action": action,
                "study_id": study_id,
                "usubjid": usubjid,
                "detail": detail,
            },
        )[0]
    )


# --- studies -----------------------------------------------------------------------------------


def studies(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """All studies in the database.

    Columns: study_id, title, registry_id, phase, design, data_cutoff, config_toml, subjects.
    """
    return con.execute(
        """
        SELECT s.study_id, s.title, s.registry_id, s.phase, s.design, s.data_cutoff, s.config_toml,
               (SELECT count(*) FROM current_subject u WHERE u.study_id = s.study_id) AS subjects
        FROM study s
        ORDER BY s.study_id
        """
    ).df()


def study_config_text(con: duckdb.DuckDBPyConnection, study_id: str) -> str | None:
    """The configuration TOML stored with a study (None when the study is unknown)."""
    row = _one_row(con, "SELECT config_toml FROM study WHERE study_id = $s", {"s": study_id})
    return row[0] if row else None


# --- DLTs and cohort status -------------------------------------------------------------------
# Dates: a record counts at a cut-off when it is dated on or before the cut-off. The DLT window
# runs from the first dose (day 1) for `window_days` days: first_dose_date <= onset <
# first_dose_date + window_days.
# Adjudications: the latest decision on each event wins, whenever it was recorded (a review done
# after the cut-off date is part of the cleaned data of that cut-off); `adjudicated_by` limits
# them to those recorded up to a moment, to show the decisions as they were known then. A DLT
# added by adjudication counts from its onset date.

# AE-based DLT candidates with the rule that made each one; adjudication overrides applied.
_AE_DLT_CTE = """
dlt_ae AS (
    SELECT ae.study_id, ae.usubjid, ae.seq, ae.pt, ae.soc, ae.start_date, ae.grade, ae.serious,
           ae.related, ae.causality,
           date_diff('day', s.first_dose_date, ae.start_date) + 1 AS onset_day,
           CASE
             WHEN list_contains($always_terms, lower(ae.pt)) THEN 'always-DLT term'
             ELSE 'grade ' || ae.grade || ' >= ' || $min_grade
                  || CASE WHEN $require_related THEN ', related (' || ae.causality || ')' ELSE '' END
           END AS dlt_rule
    FROM current_adverse_event ae
    JOIN current_subject s USING (study_id, usubjid)
    WHERE ae.study_id = $study_id
      AND ae.start_date <= $cutoff
      AND s.first_dose_date IS NOT NULL
      AND ae.start_date >= s.first_dose_date
      AND ae.start_date < s.first_dose_date + CAST($window_days AS INTEGER)
      AND NOT list_contains($excluded_terms, lower(ae.pt))
      AND (list_contains($always_terms, lower(ae.pt))
           OR (ae.grade >= $min_grade AND (ae.related OR NOT $require_related)))
),
-- Lab-based DLT candidates: the protocol's [[dlt.lab_criteria]] (CTCAE term, minimum grade) on
-- the store's CTCAE v5.0 grades (view lab_graded); one candidate per subject and term, the first
-- qualifying draw after the first dose inside the window (pre-dose baseline draws never count).
dlt_lab AS (
    SELECT study_id, usubjid, seq, x.term AS term, x.grade AS grade,
           collected_date AS onset_date,
           date_diff('day', first_dose_date, collected_date) + 1 AS onset_day,
           x.term || ' grade ' || x.grade || ' (CTCAE v5.0) on day '
             || (date_diff('day', first_dose_date, collected_date) + 1) || ': ' || test_code
             || ' ' || CAST(round(value, 3) AS VARCHAR) || coalesce(' ' || unit, '')
             || coalesce(', ' || CAST(round(x_uln, 1) AS VARCHAR) || ' x ULN', '')
             || '; protocol: grade >= '
             || $lab_min_grades[list_position($lab_terms, lower(x.term))] AS dlt_rule
    FROM (SELECT *, unnest([{'term': term_low, 'grade': grade_low},
                            {'term': term_high, 'grade': grade_high}]) AS x
          FROM lab_graded
          WHERE study_id = $study_id
            AND list_contains($lab_test_codes, upper(trim(test_code)))
            AND collected_date <= $cutoff
            AND first_dose_date IS NOT NULL
            AND collected_date >= first_dose_date
            AND collected_date < first_dose_date + CAST($window_days AS INTEGER)
            AND NOT baseline_flag)
    WHERE list_contains($lab_terms, lower(x.term))
      AND x.grade >= $lab_min_grades[list_position($lab_terms, lower(x.term))]
    QUALIFY row_number() OVER (PARTITION BY usubjid, lower(x.term)
                               ORDER BY collected_date, seq) = 1
),
adjudication AS (
    SELECT * FROM dlt_adjudication
    WHERE study_id = $study_id
      AND decided_at <= coalesce(CAST($adjudicated_by AS TIMESTAMP), TIMESTAMP 'infinity')
    QUALIFY row_number() OVER (PARTITION BY usubjid, source, coalesce(source_seq, -adjudication_id)
                               ORDER BY decided_at DESC, adjudication_id DESC) = 1
),
dlt AS (
    SELECT d.study_id, d.usubjid, 'adverse_event' AS source, d.seq AS source_seq, d.pt AS term,
           d.start_date AS onset_date, d.onset_day, d.grade, d.dlt_rule,
           coalesce(a.decision, 'candidate') AS dlt_status, a.reason AS adjudication_reason,
           a.decided_by, a.decided_at
    FROM dlt_ae d
    LEFT JOIN adjudication a
      ON a.usubjid = d.usubjid AND a.source = 'adverse_event' AND a.source_seq = d.seq
    UNION ALL
    SELECT d.study_id, d.usubjid, 'lab', d.seq, d.term, d.onset_date, d.onset_day, d.grade,
           d.dlt_rule, coalesce(a.decision, 'candidate'), a.reason, a.decided_by, a.decided_at
    FROM dlt_lab d
    LEFT JOIN adjudication a
      ON a.usubjid = d.usubjid AND a.source = 'lab' AND a.source_seq = d.seq
    UNION ALL
    SELECT a.study_id, a.usubjid, a.source, a.source_seq, a.description, a.onset_date,
           date_diff('day', s.first_dose_date, a.onset_date) + 1, NULL, 'added by adjudication',
           a.decision, a.reason, a.decided_by, a.decided_at
    FROM adjudication a JOIN current_subject s USING (study_id, usubjid)
    WHERE a.source = 'manual' AND a.onset_date <= $cutoff
)"""

# One row per subject of the study with their DLT-window state at the cut-off.
_SUBJECT_STATE_CTE = """
subject_state AS (
    SELECT s.study_id, s.usubjid, s.cohort_id, s.age, s.sex, s.status, s.first_dose_date,
           s.end_of_study_date,
           s.first_dose_date IS NOT NULL AND s.first_dose_date <= $cutoff AS treated,
           s.first_dose_date + CAST($window_days AS INTEGER) - 1 AS window_end,
           coalesce(n.dlts, 0) AS dlts,
           CASE
             WHEN s.first_dose_date IS NULL OR s.first_dose_date > $cutoff THEN 'not treated'
             WHEN coalesce(n.dlts, 0) > 0 THEN 'DLT'
             WHEN s.first_dose_date + CAST($window_days AS INTEGER) - 1 <= $cutoff
               THEN 'evaluable'
             WHEN s.status IN ('withdrawn', 'died') AND s.end_of_study_date <= $cutoff
               THEN 'not evaluable'
             ELSE 'pending'
           END AS dlt_state,
           CASE WHEN s.first_dose_date <= $cutoff
                THEN greatest(date_diff('day', $cutoff, s.first_dose_date
                                        + CAST($window_days AS INTEGER) - 1), 0)
           END AS days_left
    FROM current_subject s
    LEFT JOIN (SELECT usubjid, count(*) AS dlts FROM dlt
               WHERE dlt_status IN ('candidate', 'confirmed', 'added')
               GROUP BY usubjid) n USING (usubjid)
    WHERE s.study_id = $study_id
)"""


def _dlt_params(
    study_id: str, cutoff: date, dlt: DltDefinition, adjudicated_by: datetime | None = None
) -> dict:
    return {
        "study_id": study_id,
        "cutoff": cutoff,
        "adjudicated_by": adjudicated_by,
        "window_days": dlt.window_days,
        "min_grade": dlt.min_grade,
        "require_related": dlt.require_related,
        "always_terms": [t.lower() for t in dlt.always_terms],
        "excluded_terms": [t.lower() for t in dlt.excluded_terms],
        **_lab_dlt_params(dlt),
    }


def _lab_dlt_params(dlt: DltDefinition) -> dict:
    """The protocol's lab DLT criteria as parallel lists, and the LBTESTCDs they grade."""
    terms = [c.term.lower() for c in dlt.lab_criteria]
    codes = sorted({code.upper() for c in dlt.lab_criteria for code in lbtestcd_for_term(c.term)})
    return {
        "lab_terms": terms,
        "lab_min_grades": [int(c.min_grade) for c in dlt.lab_criteria],
        "lab_test_codes": codes,
    }


def dlt_events(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """DLT candidates and adjudicated DLTs at the cut-off, one row per event.

    Columns: study_id, usubjid, cohort_id, source, source_seq, term, onset_date, onset_day,
    grade, dlt_rule (the protocol rule that made it a candidate), dlt_status (candidate |
    confirmed | rejected | added), adjudication_reason, decided_by, decided_at.
    Adjudications recorded after ``adjudicated_by`` are ignored (default: none is).
    """
    return con.execute(
        f"WITH {_AE_DLT_CTE} SELECT d.*, s.cohort_id FROM dlt d JOIN current_subject s USING (study_id, usubjid) "
        "ORDER BY d.onset_date, d.usubjid",
        _dlt_params(study_id, cutoff, dlt, adjudicated_by),
    ).df()


def subject_dlt_states(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """Every subject's DLT-window state at the cut-off.

    Columns: usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,
    dlt_state (not treated | pending | evaluable | DLT | not evaluable), days_left.
    """
    return con.execute(
        f"WITH {_AE_DLT_CTE}, {_SUBJECT_STATE_CTE} "
        "SELECT usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,"
        "       dlt_state, days_left FROM subject_state ORDER BY cohort_id, first_dose_date, usubjid",
        _dlt_params(study_id, cutoff, dlt, adjudicated_by),
    ).df()


def cohort_summary(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """Per cohort at the cut-off: who is enrolled, treated, in the DLT window, and what happened.

    Columns: cohort_id, label, is_control, dose_level, dose, dose_unit, dose_illustrative,
    planned_subjects, subjects (enrolled), treated, in_dlt_window (pending), evaluable,
    not_evaluable, dlts (subjects with a DLT), saes (subjects with a serious AE), aes (events),
    subjects_with_ae, worst_grade_1 .. worst_grade_5 (subjects by their worst AE grade).
    """
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}, {_SUBJECT_STATE_CTE},
        ae_by_subject AS (
            SELECT usubjid, count(*) AS aes, max(grade) AS worst_grade, bool_or(serious) AS any_sae
            FROM current_adverse_event
            WHERE study_id = $study_id AND start_date <= $cutoff
            GROUP BY usubjid
        )
        SELECT c.cohort_id, c.label, c.is_control, c.dose_level, c.dose, c.dose_unit,
               c.dose_illustrative, c.planned_subjects,
               count(ss.usubjid) AS subjects,
               count(*) FILTER (WHERE ss.treated) AS treated,
               count(*) FILTER (WHERE ss.dlt_state = 'pending') AS in_dlt_window,
               count(*) FILTER (WHERE ss.dlt_state IN ('evaluable', 'DLT')) AS evaluable,
               count(*) FILTER (WHERE ss.dlt_state = 'not evaluable') AS not_evaluable,
               count(*) FILTER (WHERE ss.dlt_state = 'DLT') AS dlts,
               count(*) FILTER (WHERE a.any_sae) AS saes,
               coalesce(sum(a.aes), 0) AS aes,
               count(a.usubjid) AS subjects_with_ae,
               count(*) FILTER (WHERE a.worst_grade = 1) AS worst_grade_1,
               count(*) FILTER (WHERE a.worst_grade = 2) AS worst_grade_2,
               count(*) FILTER (WHERE a.worst_grade = 3) AS worst_grade_3,
               count(*) FILTER (WHERE a.worst_grade = 4) AS worst_grade_4,
               count(*) FILTER (WHERE a.worst_grade = 5) AS worst_grade_5
        FROM cohort c
        LEFT JOIN subject_state ss ON ss.cohort_id = c.cohort_id
        LEFT JOIN ae_by_subject a ON a.usubjid = ss.usubjid
        WHERE c.study_id = $study_id
        GROUP BY ALL
        ORDER BY c.is_control DESC, c.dose_level
        """,
        _dlt_params(study_id, cutoff, dlt, adjudicated_by),
    ).df()


# --- lab grades ---------------------------------------------------------------------------------

def refresh_lab_grades(con: duckdb.DuckDBPyConnection, study_id: str) -> int:
    """Recompute the stored CTCAE grades (table ``lab_graded``) of one study from the
    ``lab_grading`` view; call in the same transaction as any change to the study's labs or
    subjects. Returns the number of graded rows."""
    con.execute("DELETE FROM lab_graded WHERE study_id = $study_id", {"study_id": study_id})
    return int(_one_row(
        con, "INSERT INTO lab_graded SELECT * FROM lab_grading WHERE study_id = $study_id",
        {"study_id": study_id})[0])


# --- adjudication ------------------------------------------------------------------------------


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
    onset_date: date | None = None,
    description: str | None = None,
) -> int:
    """Append one adjudication of a DLT candidate (or of a DLT added by hand); returns its id."""
    return int(
        _one_row(
            con,
            """
            INSERT INTO dlt_adjudication (study_id, usubjid, source, source_seq, decision, reason,
                                          onset_date, description, decided_by, decided_at)
            VALUES ($study_id, $usubjid, $source, $source_seq, $decision, $reason, $onset_date,
                    $description, $decided_by, $decided_at)
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
            },
        )[0]
    )


def subject_first_dose(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str
) -> tuple[bool, date | None]:
    """(the subject exists in the study, their first dose date or None)."""
    row = _one_row(
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
        _one_row(
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
    return _one_row(
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
    description, decided_by, decided_at.
    """
    return con.execute(
        """
        SELECT adjudication_id, usubjid, source, source_seq, decision, reason, onset_date,
               description, decided_by, decided_at
        FROM dlt_adjudication
        WHERE study_id = $study_id AND ($usubjid IS NULL OR usubjid = $usubjid)
        ORDER BY decided_at DESC, adjudication_id DESC""",
        {"study_id": study_id, "usubjid": usubjid},
    ).df()


def audit_entries(
    con: duckdb.DuckDBPyConnection, study_id: str, action_prefix: str = ""
) -> pd.DataFrame:
    """The study's audit log, newest first; only actions starting with ``action_prefix``
    (``"dlt."`` for adjudications) when given.

    Columns: audit_id, logged_at, actor, action, usubjid, detail (JSON text).
    """
    return con.execute(
        """
        SELECT audit_id, logged_at, actor, action, usubjid, detail FROM audit_log
        WHERE study_id = $study_id AND starts_with(action, $prefix)
        ORDER BY audit_id DESC""",
        {"study_id": study_id, "prefix": action_prefix},
    ).df()


def dlt_change_dates(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    adjudicated_by: datetime | None = None,
) -> pd.DataFrame:
    """Every day up to the cut-off on which the data behind the escalation changed: a first
    dose, a DLT onset (candidates, confirmed and added DLTs; not rejected ones), the last day of
    a DLT window, a patient leaving before the end of the window.

    Columns: day (DATE), usubjid, cohort_id, event ('first dose' | 'DLT' | 'window closed' |
    'left the study'), detail. Ordered by day.
    """
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}
        SELECT day, usubjid, cohort_id, event, detail FROM (
            SELECT first_dose_date AS day, usubjid, cohort_id, 'first dose' AS event,
                   '' AS detail
            FROM current_subject WHERE study_id = $study_id AND first_dose_date <= $cutoff
            UNION ALL
            SELECT d.onset_date, d.usubjid, s.cohort_id, 'DLT',
                   d.term || ' (' || d.dlt_status || ')'
            FROM dlt d JOIN current_subject s USING (study_id, usubjid)
            WHERE d.dlt_status IN ('candidate', 'confirmed', 'added')
            UNION ALL
            SELECT first_dose_date + CAST($window_days AS INTEGER) - 1, usubjid, cohort_id,
                   'window closed', ''
            FROM current_subject WHERE study_id = $study_id
              AND first_dose_date + CAST($window_days AS INTEGER) - 1 <= $cutoff
            UNION ALL
            SELECT end_of_study_date, usubjid, cohort_id, 'left the study', status
            FROM current_subject WHERE study_id = $study_id AND status IN ('withdrawn', 'died')
              AND end_of_study_date <= $cutoff
              AND end_of_study_date < first_dose_date + CAST($window_days AS INTEGER) - 1
        )
        ORDER BY day, usubjid, event""",
        _dlt_params(study_id, cutoff, dlt, adjudicated_by),
    ).df()


# --- overview charts ---------------------------------------------------------------------------


def dosing_timeline(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Enrolment and dosing per subject, for the timeline by cohort.

    Columns: usubjid, cohort_id, cohort_label, dose_level, enrolled_date, first_dose_date
    (NULL when not dosed by the cut-off), status.
    """
    return con.execute(
        """
        SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.dose_level, s.enrolled_date,
               CASE WHEN s.first_dose_date <= $cutoff THEN s.first_dose_date END AS first_dose_date,
               s.status
        FROM current_subject s LEFT JOIN cohort c USING (study_id, cohort_id)
        WHERE s.study_id = $study_id AND (s.enrolled_date IS NULL OR s.enrolled_date <= $cutoff)
        ORDER BY coalesce(s.first_dose_date, s.enrolled_date), s.usubjid
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def ae_counts_by_month(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Adverse events by onset month and cohort.

    Columns: month (first day), cohort_id, cohort_label, aes, grade3plus, serious.
    """
    return con.execute(
        """
        SELECT date_trunc('month', ae.start_date) AS month, s.cohort_id, c.label AS cohort_label,
               count(*) AS aes,
               count(*) FILTER (WHERE ae.grade >= 3) AS grade3plus,
               count(*) FILTER (WHERE ae.serious) AS serious
        FROM current_adverse_event ae
        JOIN current_subject s USING (study_id, usubjid)
        LEFT JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
        WHERE ae.study_id = $study_id AND ae.start_date <= $cutoff
        GROUP BY ALL
        ORDER BY month, c.label
        """,
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def hard_stop_events(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, terms: list[str]
) -> pd.DataFrame:
    """Adverse events whose preferred term is a hard-stop term (case-insensitive), at the cut-off.

    Columns: usubjid, seq, pt, grade, start_date.
    """
    return con.execute(
        """
        SELECT usubjid, seq, pt, grade, start_date FROM current_adverse_event
        WHERE study_id = $study_id AND start_date <= $cutoff
          AND list_contains($terms, lower(pt))
        ORDER BY start_date, usubjid
        """,
        {"study_id": study_id, "cutoff": cutoff, "terms": [t.lower() for t in terms]},
    ).df()


# --- ingest ----------------------------------------------------------------------------------
# Data cuts: every delivered file is a batch; a later delivery of the same study and domain
# supersedes the earlier one (ingest_batch.superseded_by). Superseded rows stay in their tables,
# so an earlier cut is reachable by its batch_id. Pages read current data through the
# current_* views of schema.sql (current_subject, current_adverse_event, current_lab, ...).

# Ingest also appends to DS and SUPP-- tables (schema.sql).
LOADABLE_TABLES = LOADABLE_TABLES | {"disposition", "supp_qualifier"}

# Domain -> (table, key columns) for comparing two cuts; identifiers come only from here.
CUT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "DM": ("subject", ("usubjid",)),
    "DS": ("disposition", ("usubjid", "seq")),
    "EX": ("exposure", ("usubjid", "seq")),
    "AE": ("adverse_event", ("usubjid", "seq")),
    "SUPPAE": ("supp_qualifier", ("usubjid", "idvar", "idvarval", "qnam")),
    "LB": ("lab", ("usubjid", "seq")),
    "VS": ("vital_sign", ("usubjid", "seq")),
}
# Columns that differ between cuts without the record changing.
_CUT_IGNORED = ("batch_id", "status", "status_reason")


def loaded_batch_with_hash(
    con: duckdb.DuckDBPyConnection, study_id: str, sha256: str
) -> tuple[int, int | None] | None:
    """(batch_id, superseded_by) of a loaded batch of this study with this content, or None."""
    return _one_row(
        con,
        """
        SELECT batch_id, superseded_by FROM ingest_batch
        WHERE study_id = $study_id AND sha256 = $sha256 AND status = 'loaded'
        ORDER BY batch_id LIMIT 1""",
        {"study_id": study_id, "sha256": sha256},
    )


def current_subjects(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The study's current DM subjects. Columns: usubjid, first_dose_date."""
    return con.execute(
        """
        SELECT usubjid, first_dose_date FROM current_subject
        WHERE study_id = $study_id ORDER BY usubjid""",
        {"study_id": study_id},
    ).df()


def subjects_fingerprint(con: duckdb.DuckDBPyConnection, study_id: str) -> tuple:
    """A key that changes when the study's current DM changes: (subjects, latest DM batch)."""
    return tuple(
        _one_row(
            con,
            """
        SELECT count(*), coalesce(max(batch_id), 0) FROM current_subject
        WHERE study_id = $study_id""",
            {"study_id": study_id},
        )
    )


def supersede_batches(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str, batch_id: int
) -> list[int]:
    """Mark the study's current deliveries of ``domain`` as replaced by ``batch_id``."""
    rows = con.execute(
        """
        UPDATE ingest_batch SET superseded_by = $batch_id
        WHERE study_id = $study_id AND domain = $domain AND status = 'loaded'
          AND superseded_by IS NULL AND batch_id <> $batch_id
        RETURNING batch_id""",
        {"study_id": study_id, "domain": domain, "batch_id": batch_id},
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def refresh_subject_status(con: duckdb.DuckDBPyConnection, study_id: str) -> None:
    """Derive every current subject's status from DM and the current DS disposition events.

    In order: died (DTHFL = Y, a death date, or a DEATH disposition); screen failure (never
    dosed and ARMCD SCRNFAIL/NOTASSGN or a SCREEN FAILURE disposition); completed (last
    disposition event COMPLETED); withdrawn (any other last disposition event, whose DSDECOD
    becomes status_reason); screening (never dosed); completed (no DS, but an end of
    participation RFPENDTC); else on study.
    """
    con.execute(
        """
        WITH ds AS (
            SELECT usubjid,
                   arg_max(decod, date_diff('day', DATE '0001-01-01',
                           coalesce(start_date, DATE '0001-01-01')) * 100000 + seq) AS last,
                   bool_or(decod = 'DEATH') AS death
            FROM current_disposition
            WHERE study_id = $study_id AND coalesce(category, 'DISPOSITION EVENT')
                  = 'DISPOSITION EVENT'
            GROUP BY usubjid
        ), derived AS (
            SELECT u.usubjid, CASE
                WHEN coalesce(u.death_flag, false) OR u.death_date IS NOT NULL
                     OR coalesce(ds.death, false) THEN 'died'
                WHEN u.first_dose_date IS NULL AND (upper(u.arm_code) IN ('SCRNFAIL', 'NOTASSGN')
                     OR ds.last = 'SCREEN FAILURE') THEN 'screen failure'
                WHEN ds.last = 'COMPLETED' THEN 'completed'
                WHEN ds.last IS NOT NULL AND ds.last <> 'SCREEN FAILURE' THEN 'withdrawn'
                WHEN u.first_dose_date IS NULL THEN 'screening'
                WHEN u.end_of_study_date IS NOT NULL THEN 'completed'
                ELSE 'on study' END AS status,
                ds.last AS last_disposition
            FROM current_subject u LEFT JOIN ds USING (usubjid)
            WHERE u.study_id = $study_id
        )
        UPDATE subject AS s
        SET status = d.status,
            status_reason = CASE WHEN d.status = 'withdrawn' THEN d.last_disposition END
        FROM derived d
        WHERE s.study_id = $study_id AND s.usubjid = d.usubjid
          AND s.batch_id NOT IN (SELECT batch_id FROM superseded_batch)
        """,
        {"study_id": study_id},
    )


def refresh_data_cutoff(con: duckdb.DuckDBPyConnection, study_id: str) -> None:
    """Set the study's data cut-off to the last day its current data cover."""
    con.execute(
        """
        UPDATE study SET data_cutoff = (SELECT max(d) FROM (
            SELECT max(greatest(start_date, end_date)) AS d FROM current_adverse_event
                WHERE study_id = $s
            UNION ALL SELECT max(collected_date) FROM current_lab WHERE study_id = $s
            UNION ALL SELECT max(collected_date) FROM current_vital_sign WHERE study_id = $s
            UNION ALL SELECT max(greatest(start_date, end_date)) FROM current_exposure
                WHERE study_id = $s
            UNION ALL SELECT max(start_date) FROM current_disposition WHERE study_id = $s
            UNION ALL SELECT max(greatest(first_dose_date, last_dose_date, end_of_study_date))
                FROM current_subject WHERE study_id = $s))
        WHERE study_id = $s""",
        {"s": study_id},
    )


def batch_ledger(con: duckdb.DuckDBPyConnection, study_id: str | None = None) -> pd.DataFrame:
    """Every recorded delivery, newest first (the Data page's ledger).

    Columns: batch_id, study_id, file_name, domain, sha256, rows_in, rows_loaded,
    rows_quarantined, status, reason, loaded_by, loaded_at, superseded_by, current (bool).
    """
    return con.execute(
        """
        SELECT batch_id, study_id, file_name, domain, sha256, rows_in, rows_loaded,
               rows_quarantined, status, reason, loaded_by, loaded_at, superseded_by,
               (status = 'loaded' AND superseded_by IS NULL) AS current
        FROM ingest_batch
        WHERE $study_id IS NULL OR study_id = $study_id
        ORDER BY batch_id DESC""",
        {"study_id": study_id},
    ).df()


def quarantined_rows(
    con: duckdb.DuckDBPyConnection,
    study_id: str | None = None,
    batch_id: int | None = None,
    rule: str | None = None,
    reason_contains: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Quarantined rows with their raw record and reason, filtered as asked.

    Columns: quarantine_id, batch_id, file_name, study_id, domain, row_number, rule, reason,
    raw_record (JSON text of the row as delivered).
    """
    return con.execute(
        """
        SELECT q.quarantine_id, q.batch_id, b.file_name, q.study_id, q.domain, q.row_number,
               q.rule, q.reason, q.raw_record
        FROM quarantine q JOIN ingest_batch b USING (batch_id)
        WHERE ($study_id IS NULL OR q.study_id = $study_id)
          AND ($batch_id IS NULL OR q.batch_id = $batch_id)
          AND ($rule IS NULL OR q.rule = $rule)
          AND ($reason IS NULL OR contains(lower(q.reason), lower($reason)))
        ORDER BY q.batch_id DESC, q.row_number
        LIMIT coalesce($limit, 9223372036854775807)""",
        {
            "study_id": study_id,
            "batch_id": batch_id,
            "rule": rule,
            "reason": reason_contains,
            "limit": limit,
        },
    ).df()


def quarantine_summary(con: duckdb.DuckDBPyConnection, study_id: str | None = None) -> pd.DataFrame:
    """Quarantined rows per study, domain and rule. Columns: study_id, domain, rule, rows."""
    return con.execute(
        """
        SELECT study_id, domain, rule, count(*) AS rows FROM quarantine
        WHERE $study_id IS NULL OR study_id = $study_id
        GROUP BY ALL ORDER BY study_id, domain, rows DESC""",
        {"study_id": study_id},
    ).df()


def counts_by_domain(con: duckdb.DuckDBPyConnection, study_id: str | None = None) -> pd.DataFrame:
    """Current rows and subjects per study and domain, with the delivery they come from.

    Columns: study_id, domain, rows, subjects, batch_id (latest current batch), loaded_at.
    """
    return con.execute(
        """
        WITH counts AS (
            SELECT study_id, 'DM' AS domain, count(*) AS rows, count(DISTINCT usubjid) AS subjects
                FROM current_subject GROUP BY study_id
            UNION ALL SELECT study_id, 'DS', count(*), count(DISTINCT usubjid)
                FROM current_disposition GROUP BY study_id
            UNION ALL SELECT study_id, 'EX', count(*), count(DISTINCT usubjid)
                FROM current_exposure GROUP BY study_id
            UNION ALL SELECT study_id, 'AE', count(*), count(DISTINCT usubjid)
                FROM current_adverse_event GROUP BY study_id
            UNION ALL SELECT study_id, 'SUPP' || rdomain, count(*), count(DISTINCT usubjid)
                FROM current_supp_qualifier GROUP BY study_id, rdomain
            UNION ALL SELECT study_id, 'LB', count(*), count(DISTINCT usubjid)
                FROM current_lab GROUP BY study_id
            UNION ALL SELECT study_id, 'VS', count(*), count(DISTINCT usubjid)
                FROM current_vital_sign GROUP BY study_id
        ), latest AS (
            SELECT study_id, domain, max(batch_id) AS batch_id, max(loaded_at) AS loaded_at
            FROM ingest_batch WHERE status = 'loaded' AND superseded_by IS NULL
            GROUP BY study_id, domain
        )
        SELECT c.study_id, c.domain, c.rows, c.subjects, l.batch_id, l.loaded_at
        FROM counts c LEFT JOIN latest l USING (study_id, domain)
        WHERE $study_id IS NULL OR c.study_id = $study_id
        ORDER BY c.study_id, c.domain""",
        {"study_id": study_id},
    ).df()


def latest_cuts(
    con: duckdb.DuckDBPyConnection, study_id: str, domain: str
) -> tuple[int | None, int | None]:
    """(previous, current) batch ids of the two latest loaded deliveries of a domain."""
    rows = con.execute(
        """
        SELECT batch_id FROM ingest_batch
        WHERE study_id = $s AND domain = $d AND status = 'loaded'
        ORDER BY batch_id DESC LIMIT 2""",
        {"s": study_id, "d": domain},
    ).fetchall()
    ids = [int(r[0]) for r in rows]
    return (ids[1] if len(ids) > 1 else None), (ids[0] if ids else None)


def cut_changes(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    domain: str,
    old_batch: int | None = None,
    new_batch: int | None = None,
) -> pd.DataFrame:
    """Records added, removed or changed between two cuts of a domain (default: the two latest).

    A record is identified by its key (AE: usubjid + seq, DM: usubjid, ...); "changed" means
    any delivered value differs. With a single cut, every record is "added".
    Columns: change ('added' | 'removed' | 'changed'), the key columns, old_batch, new_batch.
    """
    if domain not in CUT_TABLES:
        raise ValueError(f"no cut comparison for domain {domain!r}")
    table, key = CUT_TABLES[domain]
    if new_batch is None:
        old_batch, new_batch = latest_cuts(con, study_id, domain)
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t "
            "ORDER BY ordinal_position",
            {"t": table},
        ).fetchall()
        if r[0] not in _CUT_IGNORED
    ]
    keys = ", ".join(key)  # identifiers from CUT_TABLES and the catalog, never from input
    values = ", ".join(cols)
    on = " AND ".join(f"n.{k} IS NOT DISTINCT FROM o.{k}" for k in key)
    return con.execute(
        f"""
        WITH o AS (SELECT {values} FROM {table} WHERE batch_id = $old AND study_id = $s),
             n AS (SELECT {values} FROM {table} WHERE batch_id = $new AND study_id = $s),
             o_only AS (SELECT * FROM o EXCEPT SELECT * FROM n),
             n_only AS (SELECT * FROM n EXCEPT SELECT * FROM o)
        SELECT CASE WHEN o.{key[0]} IS NULL THEN 'added' WHEN n.{key[0]} IS NULL THEN 'removed'
                    ELSE 'changed' END AS change,
               {", ".join(f"coalesce(n.{k}, o.{k}) AS {k}" for k in key)},
               $old AS old_batch, $new AS new_batch
        FROM n_only n FULL OUTER JOIN o_only o ON {on}
        ORDER BY {keys}""",
        {"old": old_batch, "new": new_batch, "s": study_id},
    ).df()


def cut_change_summary(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Per domain of a study: what changed between its two latest cuts.

    Columns: domain, old_batch, new_batch, added, removed, changed.
    """
    domains = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT domain FROM ingest_batch WHERE study_id = $s AND status = 'loaded' "
            "ORDER BY domain",
            {"s": study_id},
        ).fetchall()
        if r[0] in CUT_TABLES
    ]
    rows = []
    for domain in domains:
        old, new = latest_cuts(con, study_id, domain)
        changes = cut_changes(con, study_id, domain, old, new)
        counts = changes["change"].value_counts()
        rows.append(
            {
                "domain": domain,
                "old_batch": old,
                "new_batch": new,
                **{c: int(counts.get(c, 0)) for c in ("added", "removed", "changed")},
            }
        )
    return pd.DataFrame(
        rows, columns=["domain", "old_batch", "new_batch", "added", "removed", "changed"]
    )


def record_study(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    title: str,
    registry_id: str | None,
    phase: str | None,
    design: str,
    config_toml: str,
    config_sha256: str,
    batch_id: int,
) -> None:
    """Create a study row from its configuration."""
    con.execute(
        """
        INSERT INTO study (study_id, title, registry_id, phase, design, config_toml,
                           config_sha256, batch_id)
        VALUES ($study_id, $title, $registry_id, $phase, $design, $config_toml, $config_sha256,
                $batch_id)""",
        {
            "study_id": study_id,
            "title": title,
            "registry_id": registry_id,
            "phase": phase,
            "design": design,
            "config_toml": config_toml,
            "config_sha256": config_sha256,
            "batch_id": batch_id,
        },
    )



# --- adverse events ------------------------------------------------------------------------------
# Treatment-emergent adverse events (TEAEs). The rule is written once, in _TEAE_CTE below, and
# every adverse-event table (summary, SOC/PT incidence, listings, timing) reads from it; the rule
# in words, with its references, is in ``safety.teae``. Population: subjects of a cohort dosed on
# or before the cut-off (first_dose_date <= cutoff); an AE counts at the cut-off when its start
# date (imputed when partial, see the ingest) is on or before the cut-off, or is unknown.
#
# An AE is treatment-emergent unless the known part of its onset proves otherwise:
#   onset_earliest .. onset_latest is the range AESTDTC allows (year-only: the whole year;
#   year-month: the whole month; a full date: that day; blank: unknown), narrowed by a known
#   end (the onset cannot be after AEENDTC's last possible day);
#   not emergent when onset_latest < first dose (proven before treatment), or when
#   onset_earliest > first dose + follow-up days (proven after the follow-up); emergent otherwise.
# Filters are parameters ($ae_min_grade, $ae_serious, $ae_related, $ae_onset_within_days;
# NULL = no filter; prefixed so they never collide with the DLT rule's $min_grade, $window_days); the
# summary's categories are fixed SQL fragments (AE_CATEGORIES), looked up by key, never pasted
# from input.

_TEAE_CTE = """
ae_population AS (
    SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
           s.first_dose_date, s.end_of_study_date,
           s.first_dose_date + CAST($follow_up_days AS INTEGER) AS follow_up_end,
           least($cutoff, coalesce(s.end_of_study_date, $cutoff),
                 coalesce(s.first_dose_date + CAST($follow_up_days AS INTEGER), $cutoff))
               AS observed_until,
           coalesce(s.status = 'withdrawn' AND upper(s.status_reason) = 'ADVERSE EVENT'
                    AND coalesce(s.end_of_study_date <= $cutoff, true), false) AS withdrawn_for_ae
    FROM current_subject s
    JOIN cohort c ON c.study_id = s.study_id AND c.cohort_id = s.cohort_id
    WHERE s.study_id = $study_id AND s.first_dose_date <= $cutoff
),
ae_precision AS (
    SELECT ae.usubjid, ae.seq, ae.verbatim, ae.pt, ae.soc, ae.start_dtc, ae.start_date,
           ae.start_imputed, ae.end_date, ae.grade, ae.serious, ae.related, ae.causality,
           ae.outcome, ae.action_taken,
           p.cohort_id, p.cohort_label, p.is_control, p.dose_level, p.first_dose_date,
           p.follow_up_end, p.withdrawn_for_ae,
           CASE WHEN regexp_matches(ae.start_dtc, '^[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN 'day'
                WHEN regexp_matches(ae.start_dtc, '^[0-9]{4}-[0-9]{2}') THEN 'month'
                WHEN regexp_matches(ae.start_dtc, '^[0-9]{4}') THEN 'year'
                WHEN ae.start_date IS NOT NULL THEN 'day'
           END AS onset_precision
    FROM current_adverse_event ae
    JOIN ae_population p USING (usubjid)
    WHERE ae.study_id = $study_id AND (ae.start_date IS NULL OR ae.start_date <= $cutoff)
),
ae_earliest AS (
    SELECT *,
           CASE onset_precision
             WHEN 'day' THEN coalesce(TRY_CAST(left(start_dtc, 10) AS DATE), start_date)
             WHEN 'month' THEN TRY_CAST(left(start_dtc, 7) || '-01' AS DATE)
             WHEN 'year' THEN TRY_CAST(left(start_dtc, 4) || '-01-01' AS DATE)
           END AS onset_earliest
    FROM ae_precision
),
ae_range AS (
    SELECT *,
           least(CASE onset_precision
                   WHEN 'month' THEN last_day(onset_earliest)
                   WHEN 'year' THEN CAST(left(start_dtc, 4) || '-12-31' AS DATE)
                   ELSE onset_earliest
                 END, end_date) AS onset_latest
    FROM ae_earliest
),
ae_flagged AS (
    SELECT *,
           NOT coalesce(onset_latest < first_dose_date, false)
             AND NOT coalesce(onset_earliest > follow_up_end, false) AS teae,
           CASE WHEN onset_latest < first_dose_date THEN 'before first dose'
                WHEN onset_earliest > follow_up_end THEN 'after follow-up'
                WHEN onset_precision IS NULL THEN 'onset unknown'
                WHEN onset_precision <> 'day' THEN 'partial onset, may be on treatment'
                ELSE 'onset on or after first dose'
           END AS teae_basis,
           CASE WHEN start_date IS NOT NULL  -- greatest() would turn an unknown onset into 0
                THEN greatest(date_diff('day', first_dose_date, start_date), 0)
           END AS days_since_dose,
           CASE WHEN start_date >= first_dose_date
                THEN date_diff('day', first_dose_date, start_date) + 1
                ELSE date_diff('day', first_dose_date, start_date)
           END AS study_day,
           (grade = 5 OR upper(outcome) = 'FATAL') AS fatal,
           coalesce(upper(action_taken) = 'DRUG WITHDRAWN', false) OR withdrawn_for_ae
               AS leads_to_discontinuation,
           d.dlt_usubjid IS NOT NULL AS is_dlt
    FROM ae_range
    LEFT JOIN (SELECT DISTINCT usubjid AS dlt_usubjid, source_seq FROM dlt
               WHERE source = 'adverse_event' AND dlt_status IN ('candidate', 'confirmed')) d
      ON d.dlt_usubjid = ae_range.usubjid AND d.source_seq = ae_range.seq
),
teae AS (
    SELECT * FROM ae_flagged
    WHERE teae
      AND ($ae_min_grade IS NULL OR grade >= $ae_min_grade)
      AND ($ae_serious IS NULL OR serious = $ae_serious)
      AND ($ae_related IS NULL OR related = $ae_related)
      AND ($ae_onset_within_days IS NULL
           OR date_diff('day', first_dose_date, start_date) < $ae_onset_within_days)
)"""

# Summary rows: key -> (label, condition on a TEAE row). Fixed fragments; looked up by key only.
AE_CATEGORIES: dict[str, tuple[str, str]] = {
    "any": ("Any TEAE", "true"),
    "related": ("Related TEAE", "related"),
    "serious": ("Serious TEAE", "serious"),
    "grade3": ("Grade ≥ 3 TEAE", "grade >= 3"),
    "dlt": ("DLT (candidate or confirmed)", "is_dlt"),
    "discontinuation": ("TEAE leading to discontinuation", "leads_to_discontinuation"),
    "fatal": ("Fatal TEAE (grade 5 or outcome fatal)", "fatal"),
}

_LISTING_COLUMNS = """usubjid, cohort_id, cohort_label, is_control, seq, verbatim, pt, soc,
       start_dtc, start_date, start_imputed, end_date, study_day, days_since_dose, grade, serious,
       related, causality, outcome, action_taken, is_dlt, fatal, leads_to_discontinuation,
       teae, teae_basis"""


def _ae_params(
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
    min_grade: int | None = None,
    serious: bool | None = None,
    related: bool | None = None,
    window_days: int | None = None,
) -> dict:
    return {
        **_dlt_params(study_id, cutoff, dlt),
        "follow_up_days": None if follow_up_days is None else int(follow_up_days),
        "ae_min_grade": None if min_grade is None else int(min_grade),
        "ae_serious": None if serious is None else bool(serious),
        "ae_related": None if related is None else bool(related),
        "ae_onset_within_days": None if window_days is None else int(window_days),
    }


def ae_teae_flags(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
) -> pd.DataFrame:
    """Every AE of the dosed subjects at the cut-off with its treatment-emergence flag.

    Columns: the listing columns (usubjid, cohort_id, cohort_label, is_control, seq, verbatim,
    pt, soc, start_dtc, start_date, start_imputed, end_date, study_day, days_since_dose, grade,
    serious, related, causality, outcome, action_taken, is_dlt, fatal,
    leads_to_discontinuation, teae, teae_basis) plus first_dose_date, onset_precision
    (day | month | year | NULL), onset_earliest, onset_latest.
    """
    return con.execute(
        f"WITH {_AE_DLT_CTE}, {_TEAE_CTE} "
        f"SELECT {_LISTING_COLUMNS}, first_dose_date, onset_precision, onset_earliest, "
        "onset_latest FROM ae_flagged ORDER BY usubjid, seq",
        _ae_params(study_id, cutoff, dlt, follow_up_days),
    ).df()


def ae_summary_counts(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
    emergent_only: bool = True,
) -> pd.DataFrame:
    """Subjects and events per cohort in each AE_CATEGORIES row (TEAEs; all AEs if not emergent_only).

    Columns: cohort_id, cohort_label, is_control, dose_level, subjects (N dosed at the
    cut-off), then for each category key k: n_k (subjects with >= 1 such event) and events_k.
    One row per cohort of the study, control first, then by dose level.
    """
    source = "teae" if emergent_only else "ae_flagged"  # one of two fixed CTE names
    counts = ",\n".join(
        f"count(DISTINCT e.usubjid) FILTER (WHERE {cond}) AS n_{key}, "
        f"count(e.usubjid) FILTER (WHERE {cond}) AS events_{key}"
        for key, (_, cond) in AE_CATEGORIES.items()
    )
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}, {_TEAE_CTE},
        n AS (SELECT cohort_id, count(*) AS subjects FROM ae_population GROUP BY cohort_id),
        e AS (SELECT cohort_id, {counts} FROM {source} e GROUP BY cohort_id)
        SELECT c.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
               coalesce(n.subjects, 0) AS subjects, e.* EXCLUDE (cohort_id)
        FROM cohort c LEFT JOIN n USING (cohort_id) LEFT JOIN e USING (cohort_id)
        WHERE c.study_id = $study_id
        ORDER BY c.is_control DESC, c.dose_level, c.cohort_id""",
        _ae_params(study_id, cutoff, dlt, follow_up_days),
    ).df()


def ae_incidence(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
    min_grade: int | None = None,
    serious: bool | None = None,
    related: bool | None = None,
    window_days: int | None = None,
) -> pd.DataFrame:
    """Subjects with a TEAE per cohort: overall, by SOC and by SOC and PT, with worst grades.

    Columns: level ('any' | 'soc' | 'pt'), soc (AEBODSYS; NULL on the 'any' row), pt (AEDECOD;
    NULL on 'any' and 'soc' rows), cohort_id, cohort_label, is_control, dose_level,
    subjects (N dosed), n (subjects with >= 1 matching TEAE), events, worst_grade_1 ..
    worst_grade_5 (subjects by their worst grade among the matching TEAEs), total_n (n summed
    over cohorts). Every term has a row for every cohort (n = 0 when none). Sorted by
    frequency: the 'any' row, then SOCs by total_n, each followed by its PTs by total_n.
    """
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}, {_TEAE_CTE},
        per_subject AS (
            SELECT soc, pt, cohort_id, usubjid, max(grade) AS worst_grade, count(*) AS events,
                   grouping(soc, pt) AS g
            FROM teae
            GROUP BY GROUPING SETS ((cohort_id, usubjid), (soc, cohort_id, usubjid),
                                    (soc, pt, cohort_id, usubjid))
        ),
        cells AS (
            SELECT CASE g WHEN 3 THEN 'any' WHEN 1 THEN 'soc' ELSE 'pt' END AS level,
                   soc, pt, cohort_id, count(*) AS n, sum(events) AS events,
                   count(*) FILTER (WHERE worst_grade = 1) AS worst_grade_1,
                   count(*) FILTER (WHERE worst_grade = 2) AS worst_grade_2,
                   count(*) FILTER (WHERE worst_grade = 3) AS worst_grade_3,
                   count(*) FILTER (WHERE worst_grade = 4) AS worst_grade_4,
                   count(*) FILTER (WHERE worst_grade = 5) AS worst_grade_5
            FROM per_subject GROUP BY ALL
        ),
        terms AS (SELECT DISTINCT level, soc, pt FROM cells),
        n AS (SELECT cohort_id, count(*) AS subjects FROM ae_population GROUP BY cohort_id),
        cohorts AS (
            SELECT c.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
                   coalesce(n.subjects, 0) AS subjects
            FROM cohort c LEFT JOIN n USING (cohort_id) WHERE c.study_id = $study_id
        ),
        grid AS (
            SELECT t.level, t.soc, t.pt, c.*, coalesce(x.n, 0) AS n,
                   coalesce(x.events, 0) AS events,
                   coalesce(x.worst_grade_1, 0) AS worst_grade_1,
                   coalesce(x.worst_grade_2, 0) AS worst_grade_2,
                   coalesce(x.worst_grade_3, 0) AS worst_grade_3,
                   coalesce(x.worst_grade_4, 0) AS worst_grade_4,
                   coalesce(x.worst_grade_5, 0) AS worst_grade_5
            FROM terms t CROSS JOIN cohorts c
            LEFT JOIN cells x ON x.level = t.level AND x.soc IS NOT DISTINCT FROM t.soc
                 AND x.pt IS NOT DISTINCT FROM t.pt AND x.cohort_id = c.cohort_id
        ),
        ranked AS (
            SELECT *, sum(n) OVER (PARTITION BY level, soc, pt) AS total_n FROM grid
        )
        SELECT *, max(total_n) FILTER (WHERE level = 'soc') OVER (PARTITION BY soc) AS soc_total
        FROM ranked
        ORDER BY level <> 'any', soc_total DESC, soc, level <> 'soc', total_n DESC, pt,
                 is_control DESC, dose_level, cohort_id""",
        _ae_params(
            study_id, cutoff, dlt, follow_up_days, min_grade, serious, related, window_days
        ),
    ).df().drop(columns="soc_total")


def ae_listing(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
    min_grade: int | None = None,
    serious: bool | None = None,
    related: bool | None = None,
    window_days: int | None = None,
    *,
    category: str = "any",
    cohort_ids: list[str] | None = None,
    soc: str | None = None,
    pt: str | None = None,
    usubjids: list[str] | None = None,
    grade: int | None = None,
    onset_from_day: int | None = None,
    onset_to_day: int | None = None,
    first_per_subject: bool = False,
) -> pd.DataFrame:
    """The TEAEs behind a cell: filtered as the tables are, then narrowed to the cell.

    ``category`` is a key of AE_CATEGORIES; ``onset_from_day`` / ``onset_to_day`` bound
    days_since_dose (inclusive); ``first_per_subject`` keeps each subject's earliest matching
    TEAE (the event that enters the cumulative incidence). Columns: the listing columns of
    :func:`ae_teae_flags` (without first_dose_date and the onset range). Sorted by cohort,
    subject, onset.
    """
    if category not in AE_CATEGORIES:
        raise ValueError(f"unknown AE category {category!r}; expected one of {list(AE_CATEGORIES)}")
    condition = AE_CATEGORIES[category][1]  # a fixed fragment, looked up by key
    params = _ae_params(
        study_id, cutoff, dlt, follow_up_days, min_grade, serious, related, window_days
    )
    params.update(
        ae_cohort_ids=cohort_ids, ae_soc=soc, ae_pt=pt, ae_usubjids=usubjids, ae_grade=grade,
        ae_onset_from=onset_from_day, ae_onset_to=onset_to_day,
        ae_first_only=bool(first_per_subject),
    )
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}, {_TEAE_CTE},
        chosen AS (
            SELECT * FROM teae
            WHERE {condition}
              AND ($ae_cohort_ids IS NULL OR list_contains($ae_cohort_ids, cohort_id))
              AND ($ae_soc IS NULL OR soc = $ae_soc)
              AND ($ae_pt IS NULL OR pt = $ae_pt)
              AND ($ae_usubjids IS NULL OR list_contains($ae_usubjids, usubjid))
              AND ($ae_grade IS NULL OR grade = $ae_grade)
              AND ($ae_onset_from IS NULL OR days_since_dose >= $ae_onset_from)
              AND ($ae_onset_to IS NULL OR days_since_dose <= $ae_onset_to)
        )
        SELECT {_LISTING_COLUMNS} FROM chosen
        WHERE NOT $ae_first_only OR (usubjid, seq) IN (
            SELECT (usubjid, arg_min(seq, days_since_dose * 100000 + seq)) FROM chosen
            GROUP BY usubjid)
        ORDER BY is_control DESC, dose_level, usubjid, start_date, seq""",
        params,
    ).df()


def ae_first_onsets(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
    min_grade: int | None = None,
    serious: bool | None = None,
    related: bool | None = None,
    window_days: int | None = None,
) -> pd.DataFrame:
    """Per dosed subject: days from first dose to the first matching TEAE, and days observed.

    Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, first_dose_date,
    first_teae_day (days since dose of the earliest matching TEAE; NULL when none),
    observed_days (first dose to the earliest of the cut-off, end of study and end of
    follow-up; the censoring time of a subject without a TEAE).
    """
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}, {_TEAE_CTE},
        first AS (SELECT usubjid, min(days_since_dose) AS first_teae_day FROM teae GROUP BY usubjid)
        SELECT p.usubjid, p.cohort_id, p.cohort_label, p.is_control, p.dose_level,
               p.first_dose_date, f.first_teae_day,
               greatest(date_diff('day', p.first_dose_date, p.observed_until), 0) AS observed_days
        FROM ae_population p LEFT JOIN first f USING (usubjid)
        ORDER BY p.is_control DESC, p.dose_level, p.usubjid""",
        _ae_params(
            study_id, cutoff, dlt, follow_up_days, min_grade, serious, related, window_days
        ),
    ).df()


def ae_onset_days(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    cutoff: date,
    dlt: DltDefinition,
    follow_up_days: int | None,
    min_grade: int | None = None,
    serious: bool | None = None,
    related: bool | None = None,
    window_days: int | None = None,
) -> pd.DataFrame:
    """Matching TEAEs by cohort, day since first dose and grade (onset histogram, heatmap).

    Columns: cohort_id, cohort_label, is_control, dose_level, days_since_dose, grade,
    events, subjects. TEAEs with an unknown onset are left out.
    """
    return con.execute(
        f"""
        WITH {_AE_DLT_CTE}, {_TEAE_CTE}
        SELECT cohort_id, cohort_label, is_control, dose_level, days_since_dose, grade,
               count(*) AS events, count(DISTINCT usubjid) AS subjects
        FROM teae WHERE days_since_dose IS NOT NULL
        GROUP BY ALL
        ORDER BY is_control DESC, dose_level, days_since_dose, grade""",
        _ae_params(
            study_id, cutoff, dlt, follow_up_days, min_grade, serious, related, window_days
        ),
    ).df()


# --- patient -----------------------------------------------------------------------------------
# One patient's records, for the patient profile. Every query names the study and the subject;
# the fact tables are written in (study, usubjid, date) order (demo generator, ingest), so
# DuckDB's zone maps skip every other row group (../shared/STACK.md: 2 ms for one subject's
# labs in 10M rows). Listings read the current_* views; the DLT rule comes from the CTEs above.


def subject_study(con: duckdb.DuckDBPyConnection, usubjid: str) -> str | None:
    """The study a USUBJID belongs to (the first by study id if several do), or None."""
    row = _one_row(
        con,
        "SELECT min(study_id) FROM current_subject WHERE usubjid = $usubjid",
        {"usubjid": usubjid},
    )
    return row[0] if row else None


def study_roster(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The study's subjects in the order the profile steps through them, with review status.

    Order: control cohort first, then by dose level; within a cohort by first dose date
    (undosed last), then USUBJID. Columns: usubjid, cohort_id, cohort_label, dose_level,
    is_control, first_dose_date, status, review_status (latest review; NULL when never reviewed).
    """
    return con.execute(
        """
        WITH review AS (
            SELECT usubjid, arg_max(status, review_id) AS review_status
            FROM subject_review WHERE study_id = $study_id GROUP BY usubjid
        )
        SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.dose_level, c.is_control,
               s.first_dose_date, s.status, r.review_status
        FROM current_subject s
        LEFT JOIN cohort c USING (study_id, cohort_id)
        LEFT JOIN review r USING (usubjid)
        WHERE s.study_id = $study_id
        ORDER BY c.is_control DESC NULLS LAST, c.dose_level NULLS LAST,
                 s.first_dose_date NULLS LAST, s.usubjid""",
        {"study_id": study_id},
    ).df()


def patient_subject(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's demography, cohort and course at the cut-off (one row; none if unknown).

    Columns: study_id, usubjid, subjid, site_id, cohort_id, cohort_label, dose_level, dose,
    dose_unit, is_control, dose_illustrative, sex, age, race, enrolled_date, first_dose_date,
    last_dose_date, end_of_study_date, status (latest), status_reason, death_date,
    status_at_cutoff (a subject who left after the cut-off was still on study then),
    days_on_study (first dose = day 1, to the end of study or the cut-off; NULL when not dosed).
    """
    return con.execute(
        """
        SELECT s.study_id, s.usubjid, s.subjid, s.site_id, s.cohort_id, c.label AS cohort_label,
               c.dose_level, c.dose, c.dose_unit, c.is_control, c.dose_illustrative, s.sex,
               s.age, s.race, s.enrolled_date, s.first_dose_date, s.last_dose_date,
               s.end_of_study_date, s.status, s.status_reason, s.death_date,
               CASE
                 WHEN s.first_dose_date IS NULL OR s.first_dose_date > $cutoff THEN
                   CASE WHEN s.status = 'screen failure' THEN s.status ELSE 'screening' END
                 WHEN s.status IN ('completed', 'withdrawn', 'died')
                      AND coalesce(s.end_of_study_date, s.death_date) > $cutoff THEN 'on study'
                 ELSE s.status
               END AS status_at_cutoff,
               CASE WHEN s.first_dose_date <= $cutoff THEN
                 date_diff('day', s.first_dose_date,
                           least($cutoff, coalesce(s.end_of_study_date, s.death_date, $cutoff)))
                 + 1
               END AS days_on_study
        FROM current_subject s LEFT JOIN cohort c USING (study_id, cohort_id)
        WHERE s.study_id = $study_id AND s.usubjid = $usubjid""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_dlt_state(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date, dlt: DltDefinition
) -> pd.DataFrame:
    """The patient's row of :func:`subject_dlt_states` (same rule, same columns), one row."""
    return con.execute(
        f"WITH {_AE_DLT_CTE}, {_SUBJECT_STATE_CTE} "
        "SELECT usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,"
        "       dlt_state, days_left FROM subject_state WHERE usubjid = $usubjid",
        {**_dlt_params(study_id, cutoff, dlt), "usubjid": usubjid},
    ).df()


def patient_dlt_events(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date, dlt: DltDefinition
) -> pd.DataFrame:
    """The patient's rows of :func:`dlt_events`: candidates, adjudicated and added DLTs.

    Columns: source, source_seq, term, onset_date, onset_day, grade, dlt_rule, dlt_status,
    adjudication_reason, decided_by, decided_at.
    """
    return con.execute(
        f"WITH {_AE_DLT_CTE} "
        "SELECT source, source_seq, term, onset_date, onset_day, grade, dlt_rule, dlt_status,"
        "       adjudication_reason, decided_by, decided_at "
        "FROM dlt WHERE usubjid = $usubjid ORDER BY onset_date, source, source_seq",
        {**_dlt_params(study_id, cutoff, dlt), "usubjid": usubjid},
    ).df()


def patient_adverse_events(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's adverse events that started on or before the cut-off, by onset.

    Columns: seq, pt, soc, verbatim, start_date, start_imputed, end_date (NULL when ongoing
    or ending after the cut-off), ongoing (at the cut-off), grade, serious, related, causality,
    outcome, action_taken, start_day and end_day (SDTM study days: first dose = day 1, no day 0).
    """
    return con.execute(
        """
        SELECT ae.seq, ae.pt, ae.soc, ae.verbatim, ae.start_date, ae.start_imputed,
               CASE WHEN ae.end_date <= $cutoff THEN ae.end_date END AS end_date,
               ae.end_date IS NULL OR ae.end_date > $cutoff AS ongoing,
               ae.grade, ae.serious, ae.related, ae.causality,
               CASE WHEN ae.end_date <= $cutoff THEN ae.outcome END AS outcome,
               ae.action_taken,
               date_diff('day', s.first_dose_date, ae.start_date)
                 + CASE WHEN ae.start_date >= s.first_dose_date THEN 1 ELSE 0 END AS start_day,
               CASE WHEN ae.end_date <= $cutoff THEN
                 date_diff('day', s.first_dose_date, ae.end_date)
                 + CASE WHEN ae.end_date >= s.first_dose_date THEN 1 ELSE 0 END
               END AS end_day
        FROM current_adverse_event ae JOIN current_subject s USING (study_id, usubjid)
        WHERE ae.study_id = $study_id AND ae.usubjid = $usubjid AND ae.start_date <= $cutoff
        ORDER BY ae.start_date, ae.seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_labs(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's lab results collected on or before the cut-off, by date and test, with
    their stored CTCAE v5.0 grades (table ``lab_graded``, the same grades every page uses).

    Columns: study_id, usubjid, seq, test_code, test_name, category, value, value_text, unit,
    lln, uln, range_flag, collected_date, visit, visit_num, study_day, baseline_flag,
    first_dose_date, baseline, x_uln, term_low, grade_low, term_high, grade_high, worst_grade,
    grade_reason.
    """
    return con.execute(
        """
        SELECT study_id, usubjid, seq, test_code, test_name, category, value, value_text, unit,
               lln, uln, range_flag, collected_date, visit, visit_num, study_day, baseline_flag,
               first_dose_date, baseline, x_uln, term_low, grade_low, term_high, grade_high,
               worst_grade, grade_reason
        FROM lab_graded
        WHERE study_id = $study_id AND usubjid = $usubjid AND collected_date <= $cutoff
        ORDER BY collected_date, test_code, seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_vital_signs(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's vital signs collected on or before the cut-off, by date and test.

    Columns: seq, test_code, test_name, value, unit, position, collected_date, visit,
    visit_num, study_day.
    """
    return con.execute(
        """
        SELECT seq, test_code, test_name, value, unit, position, collected_date, visit,
               visit_num, study_day
        FROM current_vital_sign
        WHERE study_id = $study_id AND usubjid = $usubjid AND collected_date <= $cutoff
        ORDER BY collected_date, test_code, seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_exposure(
    con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str, cutoff: date
) -> pd.DataFrame:
    """The patient's dosing records that started on or before the cut-off.

    Columns: seq, treatment, dose, dose_unit, route, start_date, end_date, start_day (SDTM
    study day).
    """
    return con.execute(
        """
        SELECT e.seq, e.treatment, e.dose, e.dose_unit, e.route, e.start_date, e.end_date,
               date_diff('day', s.first_dose_date, e.start_date)
                 + CASE WHEN e.start_date >= s.first_dose_date THEN 1 ELSE 0 END AS start_day
        FROM current_exposure e JOIN current_subject s USING (study_id, usubjid)
        WHERE e.study_id = $study_id AND e.usubjid = $usubjid AND e.start_date <= $cutoff
        ORDER BY e.start_date, e.seq""",
        {"study_id": study_id, "usubjid": usubjid, "cutoff": cutoff},
    ).df()


def patient_audit(con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str) -> pd.DataFrame:
    """The audit log of one patient (adjudications, reviews), newest first.

    Columns: audit_id, logged_at, actor, action, detail (JSON text).
    """
    return con.execute(
        """
        SELECT audit_id, logged_at, actor, action, detail FROM audit_log
        WHERE study_id = $study_id AND usubjid = $usubjid
        ORDER BY logged_at DESC, audit_id DESC""",
        {"study_id": study_id, "usubjid": usubjid},
    ).df()


def subject_reviews(con: duckdb.DuckDBPyConnection, study_id: str, usubjid: str) -> pd.DataFrame:
    """Every review of one patient, newest first (the first row is the current one).

    Columns: review_id, status, note, reviewed_by, reviewed_at.
    """
    return con.execute(
        """
        SELECT review_id, status, note, reviewed_by, reviewed_at FROM subject_review
        WHERE study_id = $study_id AND usubjid = $usubjid
        ORDER BY review_id DESC""",
        {"study_id": study_id, "usubjid": usubjid},
    ).df()


def record_subject_review(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    usubjid: str,
    status: str,
    note: str | None,
    reviewed_by: str,
    reviewed_at: datetime,
) -> int:
    """Append one review of a patient; returns its id."""
    return int(
        _one_row(
            con,
            """
            INSERT INTO subject_review (study_id, usubjid, status, note, reviewed_by, reviewed_at)
            VALUES ($study_id, $usubjid, $status, $note, $reviewed_by, $reviewed_at)
            RETURNING review_id""",
            {
                "study_id": study_id,
                "usubjid": usubjid,
                "status": status,
                "note": note,
                "reviewed_by": reviewed_by,
                "reviewed_at": reviewed_at,
            },
        )[0]
    )


# --- labs ----------------------------------------------------------------------------------------
# Every lab query reads the lab_graded view (CTCAE v5.0 grades generated from the admiral criteria,
# safety.ctcae.sql): grades are never stale. Records count when collected on or before the cut-off;
# "post-baseline" means collected after the first-dose day (the baseline is the last value on or
# before it). Test codes are compared upper-cased.

_LAB_SUBJECTS = """
SELECT s.usubjid, s.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level
FROM current_subject s LEFT JOIN cohort c USING (study_id, cohort_id)
WHERE s.study_id = $study_id
"""


def lab_tests(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """The study's lab tests with what CTCAE v5.0 grades them.

    Columns: test_code, test_name, category, unit (most frequent), results, subjects,
    term_low, term_high, graded (results with a grade in some direction), abnormal (grade >= 1).
    """
    return con.execute(
        """
        SELECT test_code, any_value(test_name) AS test_name, any_value(category) AS category,
               mode(unit) AS unit, count(*) AS results, count(DISTINCT usubjid) AS subjects,
               any_value(term_low) AS term_low, any_value(term_high) AS term_high,
               count(worst_grade) AS graded, count(*) FILTER (WHERE worst_grade >= 1) AS abnormal
        FROM lab_graded
        WHERE study_id = $study_id AND collected_date <= $cutoff
        GROUP BY test_code
        ORDER BY any_value(category), test_code""",
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


def lab_values(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, test_codes: list[str]
) -> pd.DataFrame:
    """Every result of the chosen tests with its grades, for the time course by cohort.

    Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, seq, test_code,
    test_name, collected_date, study_day, visit, visit_num, baseline_flag, value, unit, lln, uln,
    baseline, baseline_range_flag, change, pchg, x_uln, term_low, grade_low, term_high,
    grade_high, worst_grade, grade_reason.
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS})
        SELECT subj.*, g.seq, g.test_code, g.test_name, g.collected_date, g.study_day, g.visit,
               g.visit_num, g.baseline_flag, g.value, g.unit, g.lln, g.uln, g.baseline,
               g.baseline_range_flag, g.change, g.pchg, g.x_uln, g.term_low, g.grade_low,
               g.term_high, g.grade_high, g.worst_grade, g.grade_reason
        FROM lab_graded g JOIN subj USING (usubjid)
        WHERE g.study_id = $study_id AND g.collected_date <= $cutoff
          AND list_contains($codes, upper(g.test_code))
        ORDER BY subj.is_control DESC, subj.dose_level, g.usubjid, g.test_code, g.collected_date,
                 g.seq""",
        {"study_id": study_id, "cutoff": cutoff, "codes": [c.upper() for c in test_codes]},
    ).df()


def lab_visit_summary(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, test_codes: list[str]
) -> pd.DataFrame:
    """Mean, SD, median and quartiles by cohort and scheduled visit (unscheduled draws left out).

    Columns: test_code, unit, cohort_id, cohort_label, is_control, dose_level, visit, visit_num,
    n, mean, sd, median, q1, q3.
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS})
        SELECT g.test_code, mode(g.unit) AS unit, subj.cohort_id, subj.cohort_label,
               subj.is_control, subj.dose_level, g.visit, g.visit_num,
               count(g.value) AS n, avg(g.value) AS mean, stddev_samp(g.value) AS sd,
               median(g.value) AS median, quantile_cont(g.value, 0.25) AS q1,
               quantile_cont(g.value, 0.75) AS q3
        FROM lab_graded g JOIN subj USING (usubjid)
        WHERE g.study_id = $study_id AND g.collected_date <= $cutoff
          AND list_contains($codes, upper(g.test_code))
          AND g.visit_num IS NOT NULL AND g.value IS NOT NULL
        GROUP BY ALL
        ORDER BY g.test_code, subj.is_control DESC, subj.dose_level, g.visit_num""",
        {"study_id": study_id, "cutoff": cutoff, "codes": [c.upper() for c in test_codes]},
    ).df()


def lab_subject_grades(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, test_codes: list[str]
) -> pd.DataFrame:
    """Per subject, test and CTCAE term: the baseline grade and the worst post-baseline grade.

    The baseline grade is the grade of the baseline result (last non-missing value on or before
    the first dose; highest LBSEQ on a tie); the worst grade is the highest grade of the results
    collected after the first-dose day up to the cut-off. NULL where there is none. Only subjects
    dosed by the cut-off. Columns: usubjid, cohort_id, cohort_label, is_control, dose_level, test_code, direction
    ("L"/"H"), term, baseline_grade, worst_grade, post_results (graded post-baseline results).
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS}),
        long AS (
            SELECT usubjid, test_code, collected_date, seq, value, first_dose_date,
                   unnest([{{'direction': 'L', 'term': term_low, 'grade': grade_low}},
                           {{'direction': 'H', 'term': term_high, 'grade': grade_high}}]) AS x
            FROM lab_graded
            WHERE study_id = $study_id AND collected_date <= $cutoff
              AND list_contains($codes, upper(test_code))
        )
        SELECT subj.*, l.test_code, l.x.direction AS direction, l.x.term AS term,
               arg_max(l.x.grade, date_diff('day', DATE '1970-01-01', l.collected_date)
                                  * 4294967296 + l.seq)
                   FILTER (WHERE l.value IS NOT NULL
                           AND l.collected_date <= l.first_dose_date) AS baseline_grade,
               max(l.x.grade) FILTER (WHERE l.collected_date > l.first_dose_date) AS worst_grade,
               count(l.x.grade) FILTER (WHERE l.collected_date > l.first_dose_date)
                   AS post_results
        FROM long l JOIN subj USING (usubjid)
        WHERE l.x.term IS NOT NULL AND l.first_dose_date <= $cutoff
        GROUP BY ALL
        ORDER BY subj.is_control DESC, subj.dose_level, l.test_code, direction, subj.usubjid""",
        {"study_id": study_id, "cutoff": cutoff, "codes": [c.upper() for c in test_codes]},
    ).df()


def lab_liver_peaks(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Per treated subject: peak post-baseline ALT, AST, total bilirubin and ALP as x ULN (eDISH).

    Peaks are over results collected after the first-dose day up to the cut-off (x ULN = value
    / the result's own ULN). Columns: usubjid, cohort_id, cohort_label, is_control, dose_level,
    alt_x_uln, alt_date, ast_x_uln, ast_date, bili_x_uln, bili_date, alp_x_uln.
    """
    return con.execute(
        f"""
        WITH subj AS ({_LAB_SUBJECTS}),
        peaks AS (
            SELECT usubjid,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'ALT') AS alt_x_uln,
                   arg_max(collected_date, x_uln) FILTER (WHERE upper(test_code) = 'ALT')
                       AS alt_date,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'AST') AS ast_x_uln,
                   arg_max(collected_date, x_uln) FILTER (WHERE upper(test_code) = 'AST')
                       AS ast_date,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'BILI') AS bili_x_uln,
                   arg_max(collected_date, x_uln) FILTER (WHERE upper(test_code) = 'BILI')
                       AS bili_date,
                   max(x_uln) FILTER (WHERE upper(test_code) = 'ALP') AS alp_x_uln
            FROM current_lab l JOIN current_subject s USING (study_id, usubjid)
            CROSS JOIN LATERAL (SELECT CASE WHEN l.uln > 0 THEN l.value / l.uln END AS x_uln)
            WHERE l.study_id = $study_id AND l.collected_date <= $cutoff
              AND l.collected_date > s.first_dose_date
              AND upper(l.test_code) IN ('ALT', 'AST', 'BILI', 'ALP')
            GROUP BY usubjid
        )
        SELECT subj.*, p.* EXCLUDE (usubjid)
        FROM peaks p JOIN subj USING (usubjid)
        ORDER BY subj.is_control DESC, subj.dose_level, subj.usubjid""",
        {"study_id": study_id, "cutoff": cutoff},
    ).df()


# --- alerts --------------------------------------------------------------------------------------
# Alerts are computed by safety.alerts.refresh_alerts once per new batch and stored in `alert`;
# pages only read them. `alert_state` remembers per study the batch last evaluated and the rule
# states and decisions it saw, so the next evaluation can tell what changed.

LOADABLE_TABLES = LOADABLE_TABLES | {"alert"}

ALERT_COLUMNS = """alert_id, study_id, alert_key, kind, severity, raised_at, event_date, batch_id,
    cohort_id, usubjid, title, detail, link, acknowledged_by, acknowledged_at, ack_comment"""


def alert_studies_to_evaluate(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Studies with a batch newer than their last alert evaluation (or never evaluated).

    Columns: study_id, config_toml, data_cutoff, latest_batch, evaluated_batch (NULL when never
    evaluated), rule_states (JSON or NULL), decisions (JSON or NULL).
    """
    return con.execute(
        """
        WITH latest AS (SELECT study_id, max(batch_id) AS latest_batch FROM ingest_batch
                        GROUP BY study_id)
        SELECT s.study_id, s.config_toml, s.data_cutoff, l.latest_batch,
               a.evaluated_batch, a.rule_states, a.decisions
        FROM study s JOIN latest l USING (study_id)
        LEFT JOIN alert_state a USING (study_id)
        WHERE a.evaluated_batch IS NULL OR a.evaluated_batch < l.latest_batch
        ORDER BY s.study_id"""
    ).df()


def alert_evaluated_batch(con: duckdb.DuckDBPyConnection, study_id: str) -> int | None:
    """The batch the study's alerts were last evaluated at (None: never)."""
    row = _one_row(
        con, "SELECT evaluated_batch FROM alert_state WHERE study_id = $s", {"s": study_id}
    )
    return int(row[0]) if row else None


def notable_adverse_events(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Current AEs that are serious or of CTCAE grade 3 or more, with the subject's cohort.

    Columns: usubjid, cohort_id, seq, pt, start_dtc, start_date, grade, serious, related,
    causality, outcome.
    """
    return con.execute(
        """
        SELECT a.usubjid, s.cohort_id, a.seq, a.pt, a.start_dtc, a.start_date, a.grade,
               a.serious, a.related, a.causality, a.outcome
        FROM current_adverse_event a
        LEFT JOIN current_subject s USING (study_id, usubjid)
        WHERE a.study_id = $study_id AND (a.serious OR a.grade >= 3)
        ORDER BY a.start_date, a.usubjid, a.seq""",
        {"study_id": study_id},
    ).df()


def alert_keys(con: duckdb.DuckDBPyConnection, study_id: str) -> set[str]:
    """Keys of every alert already raised for the study (each alert is raised once)."""
    rows = con.execute(
        "SELECT alert_key FROM alert WHERE study_id = $s", {"s": study_id}
    ).fetchall()
    return {r[0] for r in rows}


def save_alert_state(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    evaluated_batch: int,
    at: datetime,
    rule_states: str,
    decisions: str,
) -> None:
    """Record what the study's alert evaluation saw (replaces the previous record)."""
    con.execute(
        """
        INSERT OR REPLACE INTO alert_state
            (study_id, evaluated_batch, evaluated_at, rule_states, decisions)
        VALUES ($study_id, $batch, $at, $rule_states, $decisions)""",
        {
            "study_id": study_id,
            "batch": evaluated_batch,
            "at": at,
            "rule_states": rule_states,
            "decisions": decisions,
        },
    )


def alert_feed(
    con: duckdb.DuckDBPyConnection,
    study_id: str | None = None,
    unacknowledged_only: bool = False,
    limit: int | None = None,
) -> pd.DataFrame:
    """Alerts newest first (all studies when ``study_id`` is None).

    Columns: alert_id, study_id, alert_key, kind, severity, raised_at, event_date, batch_id,
    cohort_id, usubjid, title, detail, link, acknowledged_by, acknowledged_at, ack_comment.
    """
    return con.execute(
        f"""
        SELECT {ALERT_COLUMNS} FROM alert
        WHERE ($study_id IS NULL OR study_id = $study_id)
          AND (NOT $unacked OR acknowledged_at IS NULL)
        ORDER BY alert_id DESC
        LIMIT coalesce($limit, 9223372036854775807)""",
        {"study_id": study_id, "unacked": unacknowledged_only, "limit": limit},
    ).df()


def unacknowledged_alert_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Unacknowledged alerts per study and severity. Columns: study_id, severity, alerts."""
    return con.execute(
        """
        SELECT study_id, severity, count(*) AS alerts FROM alert
        WHERE acknowledged_at IS NULL
        GROUP BY ALL ORDER BY study_id, severity"""
    ).df()


def alerts_after_batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> pd.DataFrame:
    """Alerts raised at or after a batch (the watcher's log and the latency benchmark).

    Columns as :func:`alert_feed`.
    """
    return con.execute(
        f"SELECT {ALERT_COLUMNS} FROM alert WHERE batch_id >= $b ORDER BY alert_id",
        {"b": batch_id},
    ).df()


def acknowledge_alerts(
    con: duckdb.DuckDBPyConnection,
    alert_ids: list[int],
    *,
    actor: str,
    at: datetime,
    comment: str,
) -> pd.DataFrame:
    """Mark unacknowledged alerts as seen by ``actor``; returns the rows it changed.

    Columns: alert_id, study_id, usubjid, alert_key, title.
    """
    return con.execute(
        """
        UPDATE alert SET acknowledged_by = $actor, acknowledged_at = $at, ack_comment = $comment
        WHERE list_contains($ids, alert_id) AND acknowledged_at IS NULL
        RETURNING alert_id, study_id, usubjid, alert_key, title""",
        {"ids": [int(i) for i in alert_ids], "actor": actor, "at": at, "comment": comment},
    ).df()


# --- reports -------------------------------------------------------------------------------------
# DSMB reports (safety.report) read a frozen copy of one study: the rows of the ingest batches up
# to a freeze point (the last batch and the last adjudication present when the first report of
# that cut-off was made), copied into an in-memory database that has the same schema, so every
# query above runs on it unchanged. Identifiers come only from FROZEN_TABLES.

# Clinical tables copied batch by batch (rows of batches up to the freeze point).
FROZEN_TABLES: tuple[str, ...] = (
    "subject", "exposure", "adverse_event", "lab", "vital_sign", "disposition", "supp_qualifier",
)  # fmt: skip


def freeze_state(con: duckdb.DuckDBPyConnection, study_id: str) -> dict:
    """The study's data as they stand now, as a freeze point.

    Keys: batch_id (last loaded batch), loaded_at (when it was loaded), adjudication_id (last
    DLT adjudication, 0 when none), decided_at (when it was recorded). Missing values are None.
    """
    row = _one_row(
        con,
        """
        SELECT (SELECT max(batch_id) FROM ingest_batch WHERE study_id = $s AND status = 'loaded'),
               (SELECT max(loaded_at) FROM ingest_batch WHERE study_id = $s AND status = 'loaded'),
               (SELECT coalesce(max(adjudication_id), 0) FROM dlt_adjudication
                WHERE study_id = $s),
               (SELECT max(decided_at) FROM dlt_adjudication WHERE study_id = $s)""",
        {"s": study_id},
    )
    return dict(zip(("batch_id", "loaded_at", "adjudication_id", "decided_at"), row, strict=True))


def frozen_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    study_id: str,
    batch_id: int,
    adjudication_id: int,
):
    """One table's rows of the study as of a freeze point, as a ``pyarrow.Table``.

    ``table`` is one of FROZEN_TABLES (rows of batches up to ``batch_id``), ``ingest_batch``
    (batches up to ``batch_id``; a supersession by a later batch is undone), ``study`` and
    ``cohort`` (the configuration as stored), or ``dlt_adjudication`` (up to
    ``adjudication_id``).
    """
    params = {"s": study_id, "b": int(batch_id), "a": int(adjudication_id)}
    if table in FROZEN_TABLES:
        sql = f"SELECT * FROM {table} WHERE study_id = $s AND batch_id <= $b"
    elif table == "ingest_batch":
        sql = """SELECT * REPLACE (CASE WHEN superseded_by <= $b THEN superseded_by END
                                   AS superseded_by)
                 FROM ingest_batch WHERE study_id = $s AND batch_id <= $b"""
    elif table in ("study", "cohort"):
        sql = f"SELECT * FROM {table} WHERE study_id = $s"
    elif table == "dlt_adjudication":
        sql = "SELECT * FROM dlt_adjudication WHERE study_id = $s AND adjudication_id <= $a"
    else:
        raise ValueError(f"not a table a snapshot copies: {table!r}")
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return con.sql(sql, params=used).to_arrow_table()  # con.execute(...) would copy the rows


def load_frozen_rows(con: duckdb.DuckDBPyConnection, table: str, rows) -> None:
    """Append ``frozen_rows`` output to the same table of a frozen (in-memory) database."""
    if table not in (*FROZEN_TABLES, "ingest_batch", "study", "cohort", "dlt_adjudication"):
        raise ValueError(f"not a table a snapshot copies: {table!r}")
    con.register("_frozen_rows", rows)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frozen_rows")
    finally:
        con.unregister("_frozen_rows")


def first_snapshot_manifest(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date
) -> str | None:
    """The manifest (JSON text) of the first snapshot taken of this study at this cut-off."""
    row = _one_row(
        con,
        """
        SELECT manifest FROM snapshot WHERE study_id = $s AND cutoff = $c
        ORDER BY snapshot_id LIMIT 1""",
        {"s": study_id, "c": cutoff},
    )
    return row[0] if row else None


def record_snapshot(
    con: duckdb.DuckDBPyConnection,
    *,
    study_id: str,
    cutoff: date,
    kind: str,
    created_at: datetime,
    created_by: str,
    content_sha256: str,
    config_sha256: str,
    software_version: str,
    manifest: str,
) -> int:
    """Store a frozen data cut (one row of ``snapshot``); returns its snapshot_id."""
    return int(
        _one_row(
            con,
            """
            INSERT INTO snapshot (study_id, cutoff, kind, created_at, created_by, content_sha256,
                                  config_sha256, software_version, manifest)
            VALUES ($study_id, $cutoff, $kind, $created_at, $created_by, $content_sha256,
                    $config_sha256, $software_version, $manifest)
            RETURNING snapshot_id""",
            {
                "study_id": study_id,
                "cutoff": cutoff,
                "kind": kind,
                "created_at": created_at,
                "created_by": created_by,
                "content_sha256": content_sha256,
                "config_sha256": config_sha256,
                "software_version": software_version,
                "manifest": manifest,
            },
        )[0]
    )


def study_snapshots(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """Every snapshot (DSMB report) taken of a study, newest first.

    Columns: snapshot_id, cutoff, kind, created_at, created_by, content_sha256, config_sha256,
    software_version.
    """
    return con.execute(
        """
        SELECT snapshot_id, cutoff, kind, created_at, created_by, content_sha256, config_sha256,
               software_version
        FROM snapshot WHERE study_id = $s ORDER BY snapshot_id DESC""",
        {"s": study_id},
    ).df()


def exposure_summary(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """Study treatment given per cohort up to the cut-off, and the follow-up it bought.

    Columns: cohort_id, cohort_label, is_control, dose_level, subjects_dosed, administrations
    (EX records started on or before the cut-off), total_dose, dose_unit, first_dose_date,
    last_dose_date, follow_up_days (sum over dosed subjects of the days from the first dose to
    the cut-off or the end of study, whichever is first), median_follow_up_days.
    """
    return con.execute(
        """
        WITH ex AS (
            SELECT usubjid, count(*) AS administrations, sum(dose) AS total_dose,
                   mode(dose_unit) AS dose_unit, min(start_date) AS first_date,
                   max(start_date) AS last_date
            FROM current_exposure
            WHERE study_id = $s AND start_date <= $cutoff
            GROUP BY usubjid
        ),
        subj AS (
            SELECT s.usubjid, s.cohort_id, ex.administrations, ex.total_dose, ex.dose_unit,
                   ex.first_date, ex.last_date,
                   CASE WHEN s.first_dose_date <= $cutoff
                        THEN date_diff('day', s.first_dose_date,
                                       least($cutoff, coalesce(s.end_of_study_date, $cutoff))) + 1
                   END AS follow_up_days
            FROM current_subject s LEFT JOIN ex USING (usubjid)
            WHERE s.study_id = $s
        )
        SELECT c.cohort_id, c.label AS cohort_label, c.is_control, c.dose_level,
               count(subj.follow_up_days) AS subjects_dosed,
               coalesce(sum(subj.administrations), 0) AS administrations,
               sum(subj.total_dose) AS total_dose, mode(subj.dose_unit) AS dose_unit,
               min(subj.first_date) AS first_dose_date, max(subj.last_date) AS last_dose_date,
               coalesce(sum(subj.follow_up_days), 0) AS follow_up_days,
               median(subj.follow_up_days) AS median_follow_up_days
        FROM cohort c LEFT JOIN subj ON subj.cohort_id = c.cohort_id
        WHERE c.study_id = $s
        GROUP BY ALL
        ORDER BY c.is_control DESC, c.dose_level, c.cohort_id""",
        {"s": study_id, "cutoff": cutoff},
    ).df()


def data_timeliness(con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date) -> pd.DataFrame:
    """How current each SDTM domain is at the cut-off (trial conduct, for the open report).

    Columns: domain (DM, EX, AE, LB, VS), records (dated on or before the cut-off), undated
    (records without a usable date), latest_record (the latest such date), days_behind (from
    the latest record to the cut-off), deliveries (loaded batches), last_loaded_at,
    rows_quarantined (over all the domain's batches).
    """
    return con.execute(
        """
        WITH dated AS (
            SELECT 'DM' AS domain, enrolled_date AS d FROM current_subject WHERE study_id = $s
            UNION ALL SELECT 'EX', start_date FROM current_exposure WHERE study_id = $s
            UNION ALL SELECT 'AE', start_date FROM current_adverse_event WHERE study_id = $s
            UNION ALL SELECT 'LB', collected_date FROM current_lab WHERE study_id = $s
            UNION ALL SELECT 'VS', collected_date FROM current_vital_sign WHERE study_id = $s
        ),
        r AS (
            SELECT domain, count(*) FILTER (WHERE d <= $cutoff) AS records,
                   count(*) FILTER (WHERE d IS NULL) AS undated,
                   max(d) FILTER (WHERE d <= $cutoff) AS latest_record
            FROM dated GROUP BY domain
        ),
        b AS (
            SELECT domain, count(*) FILTER (WHERE status = 'loaded') AS deliveries,
                   max(loaded_at) FILTER (WHERE status = 'loaded') AS last_loaded_at,
                   sum(rows_quarantined) AS rows_quarantined
            FROM ingest_batch WHERE study_id = $s GROUP BY domain
        ),
        domains AS (SELECT unnest(['DM', 'EX', 'AE', 'LB', 'VS']) AS domain,
                           unnest([1, 2, 3, 4, 5]) AS k)
        SELECT domains.domain, coalesce(r.records, 0) AS records,
               coalesce(r.undated, 0) AS undated, r.latest_record,
               date_diff('day', r.latest_record, $cutoff) AS days_behind,
               coalesce(b.deliveries, 0) AS deliveries, b.last_loaded_at,
               coalesce(b.rows_quarantined, 0) AS rows_quarantined
        FROM domains LEFT JOIN r USING (domain) LEFT JOIN b USING (domain)
        ORDER BY domains.k""",
        {"s": study_id, "cutoff": cutoff},
    ).df()
