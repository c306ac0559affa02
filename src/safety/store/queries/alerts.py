"""Alerts: computed by ``safety.monitor.alerts.refresh_alerts`` once per new batch and stored in
``alert``; pages only read them. ``alert_state`` remembers per study the batch last evaluated and
the rule states and decisions it saw, so the next evaluation can tell what changed.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from safety.store.queries.database import one_row
from safety.store.queries.signatures import SIGNATURE_TEXT

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
    row = one_row(
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
    cohort_id, usubjid, title, detail, link, acknowledged_by, acknowledged_at, ack_comment,
    ack_signature (the acknowledger's name, time and meaning), cohort_label (the cohort's label,
    as every page names it).
    """
    return con.execute(
        f"""
        SELECT a.* EXCLUDE (ack_signature_id), s.ack_signature, c.label AS cohort_label
        FROM (SELECT {ALERT_COLUMNS}, ack_signature_id FROM alert
              WHERE ($study_id IS NULL OR study_id = $study_id)
                AND (NOT $unacked OR acknowledged_at IS NULL)) a
        LEFT JOIN (SELECT signature_id AS ack_signature_id, {SIGNATURE_TEXT} AS ack_signature
                   FROM signature g) s USING (ack_signature_id)
        LEFT JOIN cohort c ON c.study_id = a.study_id AND c.cohort_id = a.cohort_id
        ORDER BY a.alert_id DESC
        LIMIT coalesce($limit, 9223372036854775807)""",
        {"study_id": study_id, "unacked": unacknowledged_only, "limit": limit},
    ).df()


def sae_alerts_not_reviewed(
    con: duckdb.DuckDBPyConnection, study_id: str, baseline_actor: str
) -> pd.DataFrame:
    """SAE alerts no person has acted on: not acknowledged, or acknowledged only as baseline by
    ``baseline_actor``, and the patient not reviewed ("reviewed") since the alert was raised.

    Columns: alert_id, usubjid, cohort_id, cohort_label, site_id, title, event_date, raised_at,
    acknowledged_by.
    """
    return con.execute(
        """
        SELECT a.alert_id, a.usubjid, a.cohort_id, c.label AS cohort_label, s.site_id, a.title,
               a.event_date, a.raised_at, a.acknowledged_by
        FROM alert a
        LEFT JOIN cohort c ON c.study_id = a.study_id AND c.cohort_id = a.cohort_id
        LEFT JOIN current_subject s ON s.study_id = a.study_id AND s.usubjid = a.usubjid
        WHERE a.study_id = $study_id AND a.kind = 'sae'
          AND (a.acknowledged_at IS NULL OR a.acknowledged_by = $baseline)
          AND NOT EXISTS (
              SELECT 1 FROM subject_review r
              WHERE r.study_id = a.study_id AND r.usubjid = a.usubjid
                AND r.status = 'reviewed' AND r.reviewed_at >= a.raised_at
                AND r.review_id = (SELECT max(review_id) FROM subject_review l
                                   WHERE l.study_id = r.study_id AND l.usubjid = r.usubjid))
        ORDER BY a.event_date, a.usubjid, a.alert_id""",
        {"study_id": study_id, "baseline": baseline_actor},
    ).df()


def unacknowledged_alert_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Unacknowledged alerts per study, severity and kind. Columns: study_id, severity, kind,
    alerts."""
    return con.execute(
        """
        SELECT study_id, severity, kind, count(*) AS alerts FROM alert
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


def alert_studies(con: duckdb.DuckDBPyConnection, alert_ids: list[int]) -> dict[int, str]:
    """The study of each existing alert among ``alert_ids``."""
    rows = con.execute(
        "SELECT alert_id, study_id FROM alert WHERE list_contains($ids, alert_id)",
        {"ids": [int(i) for i in alert_ids]},
    ).fetchall()
    return {int(a): s for a, s in rows}


def acknowledge_alert(
    con: duckdb.DuckDBPyConnection,
    alert_id: int,
    *,
    actor: str,
    at: datetime,
    comment: str,
    signature_id: int,
    baseline_actor: str | None = None,
) -> tuple | None:
    """Mark an unacknowledged alert as seen by ``actor`` with their signature; returns
    (alert_id, study_id, usubjid, alert_key, title), or None when it was acknowledged already.
    An alert acknowledged only as baseline (by ``baseline_actor``) is still open to a person,
    whose acknowledgement then replaces the baseline's."""
    rows = con.execute(
        """
        UPDATE alert SET acknowledged_by = $actor, acknowledged_at = $at, ack_comment = $comment,
                         ack_signature_id = $signature_id
        WHERE alert_id = $id AND (acknowledged_at IS NULL OR acknowledged_by = $baseline)
        RETURNING alert_id, study_id, usubjid, alert_key, title""",
        {"id": int(alert_id), "actor": actor, "at": at, "comment": comment,
         "signature_id": signature_id, "baseline": baseline_actor},
    ).fetchall()  # fmt: skip
    return rows[0] if rows else None
