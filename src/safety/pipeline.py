"""A batch arrived: the one sequence every entry point runs (the ``ingest`` command, the inbox
watcher, the Data page's upload, the demo build and its live feed).

1. **load** (``safety.ingest``): each file one transaction, in domain order (DM first); inside
   it the derived data follow the delivery: subject status, the CTCAE lab grades, the study's
   data cut-off;
2. **alerts** (``safety.monitor.alerts.refresh_alerts``): the alert rules run once for the new
   batches. A new database's first evaluation records what is there as the baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from safety import store
from safety.access import Action, User, require
from safety.demo import generator
from safety.ingest import BatchResult, ingest_bytes, ingest_paths
from safety.ingest.domains import domain_rank
from safety.monitor.alerts import Alert, refresh_alerts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a delivery did: one result per file (in load order) and the alerts it raised."""

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
    return Delivery(results, raise_alerts(db) if any_loaded(results) else [])


def deliver_uploads(
    files: list[tuple[str, bytes]],
    db: str | Path | None = None,
    study_id: str | None = None,
    user: User | None = None,
) -> Delivery:
    """Load uploaded files (name, content) in domain order as ``user``, then raise the alerts."""
    ordered = sorted(files, key=lambda f: (domain_rank(f[0]), f[0]))
    results = [ingest_bytes(name, data, db, study_id, user) for name, data in ordered]
    return Delivery(results, raise_alerts(db) if any_loaded(results) else [])


def raise_alerts(db: str | Path | None = None) -> list[Alert]:
    """Evaluate the alert rules for every study with new batches (cheap when nothing is new)."""
    return refresh_alerts(db)


def any_loaded(results: Iterable[BatchResult]) -> bool:
    return any(r.status == "loaded" for r in results)


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
