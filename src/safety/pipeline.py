"""A batch arrived: the one sequence every entry point runs (the ``ingest`` command, the inbox
watcher, the Data page's upload, confirmations and retractions, the demo build and its live
feed).

1. **load** (``safety.ingest``): each file one transaction, the files of one delivery in content
   order (DM first); inside it the derived data follow the delivery (subject status, the CTCAE
   lab grades, the study's data cut-off) and the comparison with the current data decides
   whether it loads or is held; a DM is followed by the re-evaluation of rows that waited for it;
2. **alerts** (``safety.monitor.alerts.refresh_alerts``): the alert rules run for every study
   whose latest batch is newer than its last evaluation. A new database's first evaluation
   records what is there as the baseline;
3. **notifications** (``safety.notify``): the new alerts' messages queued in the outbox for their
   subscribers, then, after a delivery (and each watcher round), the due ones sent.

Alerts are never lost: the committed batch row is itself the record that its alerts are due
(``alert_state.evaluated_batch`` stays older until they are stored), so a process killed between
the commit and step 2 leaves them pending, and whichever process next runs this sequence (even
for a duplicate), the watcher at start and every round, or ``status`` / ``report`` completes
them (:func:`raise_alerts`).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from safety import ingest, notify, store
from safety.access import Action, Signature, User, require
from safety.demo import generator
from safety.errors import SafetyError
from safety.ingest import BatchResult, ingest_paths
from safety.ingest.files import ingest_file, order_by_content
from safety.ingest.load import flatten, require_ingest
from safety.monitor.alerts import Alert, refresh_alerts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a delivery did: one result per batch (in load order) and the alerts it raised."""

    results: list[BatchResult]
    alerts: list[Alert]

    @property
    def loaded(self) -> bool:
        return any(r.status == "loaded" for r in self.results)


def deliver_paths(
    paths: Iterable[Path | str],
    db: str | Path | None = None,
    study_id: str | None = None,
    user: User | None = None,
) -> Delivery:
    """Load files and folders (``safety.ingest.ingest_paths``) as ``user``, then raise the alerts."""
    results = ingest_paths(paths, db, study_id, user)
    return _delivered(results, db, user)


def deliver_uploads(
    files: list[tuple[str, bytes]],
    db: str | Path | None = None,
    study_id: str | None = None,
    user: User | None = None,
) -> Delivery:
    """Load uploaded files (name, content) in content order as ``user``, then raise the
    alerts."""
    with tempfile.TemporaryDirectory(prefix="safety-upload-") as tmp:
        paths = []
        for i, (name, data) in enumerate(files):
            folder = Path(tmp) / str(i)  # one folder each: two uploads may share a name
            folder.mkdir()
            path = folder / (Path(name).name or "upload")
            path.write_bytes(data)
            paths.append(path)
        if paths:
            require_ingest(user, study_id)
            store.create_if_missing(db)
        results = flatten(ingest_file(p, db, study_id, user) for p in order_by_content(paths))
    return _delivered(results, db, user)


def confirm_delivery(db: str | Path | None, hold_id: int, user: User, reason: str,
                     signature: Signature | None) -> Delivery:
    """A data manager confirms a held delivery, signed (``safety.ingest.confirm_delivery``);
    then the alerts."""
    result = ingest.confirm_delivery(db, hold_id, user, reason, signature)
    return _delivered(flatten([result]), db, user)


def reject_delivery(db: str | Path | None, hold_id: int, user: User, reason: str) -> Delivery:
    """A data manager rejects a held delivery (``safety.ingest.reject_delivery``)."""
    return Delivery([ingest.reject_delivery(db, hold_id, user, reason)], [])


def retract_batch(db: str | Path | None, batch_id: int, user: User, reason: str,
                  signature: Signature | None) -> Delivery:
    """Take a batch back, signed, restoring the cut before it (``safety.ingest.retract_batch``);
    then the alerts."""
    result = ingest.retract_batch(db, batch_id, user, reason, signature)
    return _delivered(flatten([result]), db, user)


def raise_alerts(db: str | Path | None = None) -> list[Alert]:
    """Evaluate the alert rules for every study with batches newer than its last evaluation,
    including those a killed process left pending (cheap when nothing is new: one read), and
    queue the notifications of every alert not queued yet."""
    alerts = refresh_alerts(db)
    try:
        notify.queue_notifications(db)
    except SafetyError as exc:  # the alerts stand; their messages wait for the next round
        log.warning("notifications not queued: %s", exc)
    return alerts


def send_notifications(db: str | Path | None, user: User | None) -> notify.SendReport:
    """Send the notifications that are due (``safety.notify.send_due``); what fails stays in
    the outbox for the next round, and nothing here fails the delivery."""
    try:
        return notify.send_due(db, user) if user is not None else notify.SendReport()
    except SafetyError as exc:
        log.warning("notifications not sent: %s", exc)
        return notify.SendReport()


def _delivered(results: list[BatchResult], db: str | Path | None, user: User | None
               ) -> Delivery:
    delivery = Delivery(results, raise_alerts(db))
    send_notifications(db, user)
    return delivery


def build_demo(
    db: str | Path | None = None, user: User | None = None, **options
) -> generator.DemoSummary:
    """Write the demo database (``safety.demo.generator.build_demo``) and record its alert
    baseline, so that only data arriving later raise alerts.

    Replacing an existing database (and its audit trail) needs an administrator (``user``);
    where there is no database yet (the dashboard's first start), nobody's data is at stake.
    """
    if store.resolve_db_path(db).exists():
        require(user, Action.BUILD_DATABASE)
    summary = generator.build_demo(db, **options)
    raise_alerts(store.resolve_db_path(db))
    return summary
