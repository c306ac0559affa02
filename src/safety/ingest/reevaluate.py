"""Rows that waited for their DM: quarantined as ``not_in_dm``, evaluated again when it arrives.

An AE (or EX, LB, ...) row of a subject the study's DM does not have yet is quarantined, not
dropped. After every DM delivery (``files.ingest_file``, a confirmed DM, a DM retraction) the
study's open ``not_in_dm`` rows whose subject is now in DM are loaded again, per domain, from
their records as delivered:

- rows quarantined from the domain's **current cut** are merged into it: a new batch
  (``delivery = 'reevaluation'``) holding the cut plus the rows that now pass; every open
  ``not_in_dm`` row of that cut is evaluated, so one still waiting stays in quarantine, linked to
  its earlier quarantine (``previous_id``) and attached to the new cut;
- a **rejected** delivery newer than the current cut (every row waited: an AE file sent before
  its DM) is delivered again as it was meant, a cumulative or incremental delivery of its
  domain, compared and possibly held like any other.

The earlier quarantined rows are closed (``reevaluated_in``); the chain of ``previous_id`` is
each row's history.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pandas as pd

from safety import store
from safety.access import User
from safety.ingest.load import BatchResult, Reevaluation, load_dataset
from safety.ingest.readers import RawDataset
from safety.store import queries

log = logging.getLogger(__name__)


def release_waiting_rows(db: str | Path | None, study_id: str, user: User) -> list[BatchResult]:
    """Evaluate again the study's quarantined rows whose subject the current DM now has, as
    ``user`` (who loaded that DM, or confirmed or retracted a delivery).

    Returns one result per domain re-evaluated (none when nothing waits: one short read).
    """
    with store.read_connection(db, rules=False) as con:
        batches = queries.deliveries.batches_waiting_for_dm(con, study_id)
        jobs = []
        for b in batches.itertuples(index=False):
            merge = b.status == "loaded"
            rows = queries.deliveries.open_quarantine(
                con, int(b.batch_id), rule="not_in_dm" if merge else None)
            jobs.append((b, merge, rows))
    results = []
    for b, merge, rows in jobs:
        frame = pd.DataFrame([json.loads(r) for r in rows["raw_record"]])
        data = frame.to_csv(index=False).encode("utf-8")
        raw = RawDataset(
            file_name=f"{Path(b.file_name).stem}.reevaluated-from-batch-{int(b.batch_id)}.csv",
            sha256=hashlib.sha256(data).hexdigest(), format="csv", name=str(b.domain),
            frame=frame)
        reevaluation = Reevaluation(
            tuple(int(i) for i in rows["quarantine_id"]),
            tuple(int(n) for n in rows["row_number"]), merge=merge)
        log.info("%s: %d quarantined %s rows of batch %d evaluated again after DM", study_id,
                 len(frame), b.domain, int(b.batch_id))
        results.append(load_dataset(raw, db, study_id, user, lambda data=data: data,
                                    reevaluation=reevaluation))
    return results
