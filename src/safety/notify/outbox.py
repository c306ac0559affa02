"""The outbox: alerts become queued messages, and a sender that retries gets them out.

**Queue** (:func:`queue_notifications`, the step after the alerts in ``safety.pipeline``): the
alerts raised since the last queued one (``notification_state``), except a study's baseline,
each composed for every subscription that wants its severity and whose role may see some of
it (``safety.notify.messages``), one message per alert and recipient (a recipient subscribed
twice gets the least revealing one), in one transaction with the new high-water mark and an
audit entry per study (``notify.queue``). The committed alert row is itself the record that its
messages are due: a process that dies between the alerts and this step leaves them to the next
one (the watcher's next round, any delivery, ``notify send``). Alerts raised before
notifications were configured are not sent later.

**Send** (:func:`send_due`): claim the due messages (status ``sending``) in one short
transaction, send them with no database connection open (DuckDB would lock every other process
out meanwhile), then record each attempt and its outcome in another, audited (``notify.sent``,
``notify.failed``). A failed message waits ``retry_seconds`` × 2^(attempts − 1), at most
``retry_max_seconds``, and is tried again, for as long as it takes: a mail server that is down
delays messages, never loses them. A message claimed by a sender that never reported (killed
mid-send) is claimed again after :data:`CLAIM_LEASE`, so it may then arrive twice; its
``Message-ID`` and ``webhook-id`` are the same on every attempt, so the receiver can tell.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from safety import store
from safety.access import PERMISSIONS, AccessConfig, Action, User, load_access_config, require
from safety.access.subscriptions import NotifyConfig
from safety.errors import SafetyError
from safety.monitor.alerts import BASELINE_ACTOR
from safety.notify.channels import DeliveryFailed, post_webhook, send_email
from safety.notify.messages import Message, compose
from safety.store import queries

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=10)  # a claimed message nobody reported on is due again
_REVEALING = ("open", "patient", "closed")  # least revealing first


@dataclass(frozen=True)
class SendReport:
    """One sending round: the messages sent and those that failed (id, error)."""

    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def queue_notifications(db: str | Path | None = None, config: AccessConfig | None = None,
                        now: datetime | None = None) -> int:
    """Queue the messages of every alert raised since the last call; returns how many.

    Cheap when no alert is new (one short read)."""
    with store.read_connection(db, rules=False) as con:
        if queries.notifications.last_alert(con) <= queries.notifications.queued_alert(con):
            return 0
    config = config or load_access_config()
    at = now or store.now()
    queued: dict[str, list[int]] = {}
    with store.write_connection(db, rules=False) as con:
        alerts = queries.notifications.alerts_to_notify(
            con, queries.notifications.queued_alert(con), BASELINE_ACTOR)
        for alert in alerts.itertuples(index=False):
            for (channel, recipient), (user_id, message) in _messages(alert, config).items():
                nid = queries.notifications.add_notification(
                    con, alert_id=int(alert.alert_id), study_id=alert.study_id, channel=channel,
                    recipient=recipient, subscriber=user_id, visibility=message.visibility,
                    subject=message.subject,
                    body=message.text if channel == "email" else message.json(), at=at)
                if nid is not None:
                    queued.setdefault(alert.study_id, []).append(nid)
        queries.notifications.save_queued_alert(con, queries.notifications.last_alert(con))
        for study_id, ids in queued.items():
            queries.database.record_audit(
                con, actor=BASELINE_ACTOR, action="notify.queue", at=at, study_id=study_id,
                detail=json.dumps({"notifications": ids}))
    return sum(map(len, queued.values()))


def _messages(alert, config: AccessConfig) -> dict[tuple[str, str], tuple[str, Message]]:
    """(channel, recipient) -> (subscriber, message) for one alert."""
    notify = config.notify
    found: dict[tuple[str, str], tuple[str, Message]] = {}
    if notify is None:
        return found
    for sub in notify.subscriptions:
        if not sub.wants(alert.severity) or not (
                sub.study_id == "*" or sub.study_id.lower() == alert.study_id.lower()):
            continue
        message = compose(alert, config.subscriber(sub), notify.dashboard_url or "")
        if message is None:
            continue
        for channel, recipient in (("email", sub.email), ("webhook", sub.webhook)):
            if not recipient:
                continue
            had = found.get((channel, recipient))
            if had is None or _REVEALING.index(message.visibility) < _REVEALING.index(
                    had[1].visibility):
                found[(channel, recipient)] = (sub.user, message)
    return found


def send_due(db: str | Path | None, user: User, config: AccessConfig | None = None,
             now: datetime | None = None) -> SendReport:
    """Send every message that is due, of the studies where ``user`` may load deliveries
    (the watcher's account, a data manager); record each attempt."""
    config = config or load_access_config()
    if config.notify is None or not (config.notify.smtp or config.notify.webhooks):
        return SendReport()  # no way out configured: the outbox waits, unread
    with store.read_connection(db, rules=False) as con:
        studies = [s for s in queries.notifications.outbox_studies(con)
                   if user.can(Action.INGEST, s)]
    if not studies:
        return SendReport()
    at = now or store.now()
    with store.write_connection(db, rules=False) as con:
        due = queries.notifications.claim_due(con, at=at, stale_before=at - CLAIM_LEASE,
                                              studies=studies)
    outcomes = []
    for row in due.itertuples(index=False):
        started = store.now()
        try:
            detail, sent = _send(row, config.notify), True
        except (DeliveryFailed, SafetyError) as exc:
            detail, sent = str(exc), False
            log.warning("notification %d (%s to %s) not sent: %s", row.notification_id,
                        row.channel, row.recipient, detail)
        outcomes.append((row, started, store.now(), sent, detail))
    report = SendReport()
    with store.write_connection(db, rules=False) as con:
        for row, started, finished, sent, detail in outcomes:
            attempt = int(row.attempts)
            wait = None if sent else _backoff(config.notify, attempt)
            queries.notifications.record_attempt(
                con, notification_id=int(row.notification_id), attempt=attempt,
                started_at=started, finished_at=finished, sent=sent, detail=detail,
                next_attempt_at=None if sent else at + wait)
            queries.database.record_audit(
                con, actor=user.id, action="notify.sent" if sent else "notify.failed", at=finished,
                study_id=row.study_id,
                detail=json.dumps({"notification_id": int(row.notification_id),
                                   "alert_id": int(row.alert_id), "channel": row.channel,
                                   "recipient": row.recipient, "attempt": attempt,
                                   "detail": detail}))  # fmt: skip
            if sent:
                report.sent.append(int(row.notification_id))
            else:
                report.failed.append((int(row.notification_id), detail))
    return report


def _backoff(notify: NotifyConfig | None, attempt: int) -> timedelta:
    base, cap = (notify.retry_seconds, notify.retry_max_seconds) if notify else (30.0, 3600.0)
    return timedelta(seconds=min(base * 2 ** (attempt - 1), cap))


def _send(row, notify: NotifyConfig | None) -> str:
    if row.channel == "email":
        if notify is None or notify.smtp is None:
            raise DeliveryFailed("no [notify.smtp] mail server is configured")
        return send_email(notify.smtp, row.recipient, row.subject, row.body,
                          f"<notification-{row.notification_id}.alert-{row.alert_id}"
                          f"@safety-monitor>")  # fmt: skip
    hook = notify.webhooks.get(row.recipient) if notify else None
    if hook is None:
        raise DeliveryFailed(f"webhook {row.recipient} is no longer configured")
    return post_webhook(hook, f"safety-{row.study_id}-{row.alert_id}-{row.notification_id}",
                        row.body)


def outbox(db: str | Path | None, user: User) -> tuple[list[str], object]:
    """The outbox of the studies whose deliveries ``user`` may see (no message content):
    (studies, frame as ``queries.notifications.notifications``)."""
    with store.read_connection(db, rules=False) as con:
        studies = [s for s in queries.notifications.outbox_studies(con)
                   if user.can(Action.VIEW_DELIVERIES, s)]
        if not any(Action.VIEW_DELIVERIES in PERMISSIONS[g.role] for g in user.grants):
            require(user, Action.VIEW_DELIVERIES)  # refuse, naming the user and the act
        return studies, queries.notifications.notifications(con, studies)
