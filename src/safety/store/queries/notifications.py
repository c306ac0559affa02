"""Notifications: the outbox (``notification``), its attempts and how far alerts are queued
(``notification_state``). Written by ``safety.notify.outbox``; nothing else sends."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from safety.store.queries.database import one_row


def queued_alert(con: duckdb.DuckDBPyConnection) -> int:
    """The last alert whose notifications are queued (0: none yet)."""
    row = one_row(con, "SELECT queued_alert FROM notification_state")
    return int(row[0]) if row else 0


def last_alert(con: duckdb.DuckDBPyConnection) -> int:
    """The newest alert's id (0: no alert)."""
    return int(one_row(con, "SELECT coalesce(max(alert_id), 0) FROM alert")[0])


def alerts_to_notify(con: duckdb.DuckDBPyConnection, after: int, baseline_actor: str
                     ) -> pd.DataFrame:
    """Alerts newer than ``after`` that are news (not a study's baseline), oldest first, with
    the cohort's label and the patient's site.

    Columns: alert_id, study_id, kind, severity, raised_at, event_date, cohort_id,
    cohort_label, usubjid, site, title, detail, link.
    """
    return con.execute(
        """
        SELECT a.alert_id, a.study_id, a.kind, a.severity, a.raised_at, a.event_date,
               a.cohort_id, c.label AS cohort_label, a.usubjid, s.site_id AS site, a.title,
               a.detail, a.link
        FROM alert a
        LEFT JOIN cohort c ON c.study_id = a.study_id AND c.cohort_id = a.cohort_id
        LEFT JOIN current_subject s ON s.study_id = a.study_id AND s.usubjid = a.usubjid
        WHERE a.alert_id > $after
          AND NOT (a.acknowledged_by IS NOT DISTINCT FROM $baseline
                   AND a.ack_signature_id IS NULL)
        ORDER BY a.alert_id""",
        {"after": after, "baseline": baseline_actor},
    ).df()


def save_queued_alert(con: duckdb.DuckDBPyConnection, alert_id: int) -> None:
    con.execute("INSERT OR REPLACE INTO notification_state VALUES (1, $a)", {"a": alert_id})


def add_notification(con: duckdb.DuckDBPyConnection, *, alert_id: int, study_id: str,
                     channel: str, recipient: str, subscriber: str, visibility: str,
                     subject: str, body: str, at: datetime) -> int | None:
    """Queue one message; None when this alert already has one for the recipient."""
    rows = con.execute(
        """
        INSERT OR IGNORE INTO notification (alert_id, study_id, channel, recipient, subscriber,
            visibility, subject, body, created_at, status, next_attempt_at)
        VALUES ($alert, $study, $channel, $recipient, $subscriber, $visibility, $subject,
                $body, $at, 'pending', $at)
        RETURNING notification_id""",
        {"alert": alert_id, "study": study_id, "channel": channel, "recipient": recipient,
         "subscriber": subscriber, "visibility": visibility, "subject": subject, "body": body,
         "at": at},
    ).fetchall()  # fmt: skip
    return int(rows[0][0]) if rows else None


def claim_due(con: duckdb.DuckDBPyConnection, *, at: datetime, stale_before: datetime,
              studies: list[str]) -> pd.DataFrame:
    """Take the messages due now (pending and due, or claimed by a sender that has not
    reported since ``stale_before``) of ``studies`` for this sender: their status becomes
    ``sending`` and their attempt count goes up by one.

    Columns: notification_id, alert_id, study_id, channel, recipient, subject, body, attempts.
    """
    return con.execute(
        """
        UPDATE notification SET status = 'sending', claimed_at = $at, attempts = attempts + 1
        WHERE list_contains($studies, study_id)
          AND ((status = 'pending' AND next_attempt_at <= $at)
               OR (status = 'sending' AND claimed_at < $stale))
        RETURNING notification_id, alert_id, study_id, channel, recipient, subject, body,
                  attempts""",
        {"at": at, "stale": stale_before, "studies": studies},
    ).df().sort_values("notification_id", ignore_index=True)


def record_attempt(con: duckdb.DuckDBPyConnection, *, notification_id: int, attempt: int,
                   started_at: datetime, finished_at: datetime, sent: bool, detail: str,
                   next_attempt_at: datetime | None) -> None:
    """Record one attempt; the message is sent, or pending again until ``next_attempt_at``."""
    con.execute(
        """
        INSERT INTO notification_attempt (notification_id, attempt, started_at, finished_at,
                                          outcome, detail)
        VALUES ($id, $attempt, $started, $finished, $outcome, $detail)""",
        {"id": notification_id, "attempt": attempt, "started": started_at,
         "finished": finished_at, "outcome": "sent" if sent else "failed", "detail": detail},
    )  # fmt: skip
    con.execute(
        """
        UPDATE notification
        SET status = CASE WHEN $sent THEN 'sent' ELSE 'pending' END,
            sent_at = CASE WHEN $sent THEN $finished END,
            next_attempt_at = coalesce($next, next_attempt_at), claimed_at = NULL,
            last_error = CASE WHEN $sent THEN NULL ELSE $detail END
        WHERE notification_id = $id""",
        {"id": notification_id, "sent": sent, "finished": finished_at, "next": next_attempt_at,
         "detail": detail},
    )  # fmt: skip


def notifications(con: duckdb.DuckDBPyConnection, studies: list[str]) -> pd.DataFrame:
    """The outbox of ``studies``, newest first, without the messages' content.

    Columns: notification_id, alert_id, study_id, channel, recipient, subscriber, visibility,
    status, attempts, created_at, next_attempt_at, sent_at, last_error.
    """
    return con.execute(
        """
        SELECT notification_id, alert_id, study_id, channel, recipient, subscriber, visibility,
               status, attempts, created_at, next_attempt_at, sent_at, last_error
        FROM notification WHERE list_contains($studies, study_id)
        ORDER BY notification_id DESC""",
        {"studies": studies},
    ).df()


def attempts(con: duckdb.DuckDBPyConnection, notification_id: int) -> pd.DataFrame:
    """Every attempt of one message. Columns: attempt, started_at, finished_at, outcome,
    detail."""
    return con.execute(
        """
        SELECT attempt, started_at, finished_at, outcome, detail FROM notification_attempt
        WHERE notification_id = $id ORDER BY attempt_id""",
        {"id": notification_id},
    ).df()


def outbox_studies(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The studies with messages in the outbox."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT study_id FROM notification ORDER BY study_id").fetchall()]
