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
    """Rows in each clinical table of the database (all studies)."""
    row = _one_row(
        con,
        """
        SELECT (SELECT count(*) FROM subject), (SELECT count(*) FROM exposure),
               (SELECT count(*) FROM adverse_event), (SELECT count(*) FROM lab),
               (SELECT count(*) FROM vital_sign)""",
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
               (SELECT count(*) FROM subject u WHERE u.study_id = s.study_id) AS subjects
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
    FROM adverse_event ae
    JOIN subject s USING (study_id, usubjid)
    WHERE ae.study_id = $study_id
      AND ae.start_date <= $cutoff
      AND s.first_dose_date IS NOT NULL
      AND ae.start_date >= s.first_dose_date
      AND ae.start_date < s.first_dose_date + CAST($window_days AS INTEGER)
      AND NOT list_contains($excluded_terms, lower(ae.pt))
      AND (list_contains($always_terms, lower(ae.pt))
           OR (ae.grade >= $min_grade AND (ae.related OR NOT $require_related)))
),
adjudication AS (
    SELECT * FROM dlt_adjudication
    WHERE study_id = $study_id AND CAST(decided_at AS DATE) <= $cutoff
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
    SELECT a.study_id, a.usubjid, a.source, a.source_seq, a.description, a.onset_date,
           date_diff('day', s.first_dose_date, a.onset_date) + 1, NULL, 'added by adjudication',
           a.decision, a.reason, a.decided_by, a.decided_at
    FROM adjudication a JOIN subject s USING (study_id, usubjid)
    WHERE a.decision = 'added'
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
    FROM subject s
    LEFT JOIN (SELECT usubjid, count(*) AS dlts FROM dlt
               WHERE dlt_status IN ('candidate', 'confirmed', 'added')
               GROUP BY usubjid) n USING (usubjid)
    WHERE s.study_id = $study_id
)"""


def _dlt_params(study_id: str, cutoff: date, dlt: DltDefinition) -> dict:
    return {
        "study_id": study_id,
        "cutoff": cutoff,
        "window_days": dlt.window_days,
        "min_grade": dlt.min_grade,
        "require_related": dlt.require_related,
        "always_terms": [t.lower() for t in dlt.always_terms],
        "excluded_terms": [t.lower() for t in dlt.excluded_terms],
    }


def dlt_events(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, dlt: DltDefinition
) -> pd.DataFrame:
    """DLT candidates and adjudicated DLTs at the cut-off, one row per event.

    Columns: study_id, usubjid, cohort_id, source, source_seq, term, onset_date, onset_day,
    grade, dlt_rule (the protocol rule that made it a candidate), dlt_status (candidate |
    confirmed | rejected | added), adjudication_reason, decided_by, decided_at.
    """
    return con.execute(
        f"WITH {_AE_DLT_CTE} SELECT d.*, s.cohort_id FROM dlt d JOIN subject s USING (study_id, usubjid) "
        "ORDER BY d.onset_date, d.usubjid",
        _dlt_params(study_id, cutoff, dlt),
    ).df()


def subject_dlt_states(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, dlt: DltDefinition
) -> pd.DataFrame:
    """Every subject's DLT-window state at the cut-off.

    Columns: usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,
    dlt_state (not treated | pending | evaluable | DLT | not evaluable), days_left.
    """
    return con.execute(
        f"WITH {_AE_DLT_CTE}, {_SUBJECT_STATE_CTE} "
        "SELECT usubjid, cohort_id, age, sex, status, first_dose_date, treated, window_end, dlts,"
        "       dlt_state, days_left FROM subject_state ORDER BY cohort_id, first_dose_date, usubjid",
        _dlt_params(study_id, cutoff, dlt),
    ).df()


def cohort_summary(
    con: duckdb.DuckDBPyConnection, study_id: str, cutoff: date, dlt: DltDefinition
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
            FROM adverse_event
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
        _dlt_params(study_id, cutoff, dlt),
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
        FROM subject s LEFT JOIN cohort c USING (study_id, cohort_id)
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
        FROM adverse_event ae
        JOIN subject s USING (study_id, usubjid)
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
        SELECT usubjid, seq, pt, grade, start_date FROM adverse_event
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
