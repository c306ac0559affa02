"""A second delivery of a domain replaces the first for every reader: nothing is counted twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import people

from safety import store
from safety.ingest import ingest_paths
from safety.monitor.status import study_statuses
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"


def test_cumulative_dm_and_ae_deliveries_are_counted_once(tmp_path):
    db = tmp_path / "cuts.duckdb"
    with store.new_database(db):
        pass
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    # The next EDC export is cumulative: the same records, one AE more (a copy of the last one
    # with a new sequence number), so both files differ in content from the first delivery.
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False)
    extra = ae.tail(1).assign(AESEQ=str(int(ae["AESEQ"].astype(int).max()) + 1))
    pd.concat([ae, extra]).to_csv(tmp_path / "ae.csv", index=False)
    dm = pd.read_csv(PILOT / "dm.csv", dtype=str, keep_default_na=False)
    dm.to_csv(tmp_path / "dm.csv", index=False, lineterminator="\r\n")  # new bytes, same rows
    results = ingest_paths([tmp_path / "dm.csv", tmp_path / "ae.csv"], db=db, user=people.DATA_MANAGER)
    assert [r.status for r in results] == ["loaded", "loaded"]

    with store.read_connection(db) as con:
        (status,) = study_statuses(con, "CDISCPILOT01", cutoff=date(2015, 12, 31))
        counts = queries.database.row_counts(con)
    # CDISC pilot README: DM 306 subjects (52 screen failures), AE 1,191 records
    assert sum(c.subjects for c in status.cohorts) == 306 - 52
    assert counts["subject"] == 306
    assert counts["adverse_event"] == 1191 + 1


def test_ae_delivered_before_any_dm_is_quarantined_not_a_crash(tmp_path):
    # Found by hand: Series.map over an empty DM lookup raised "Cannot cast DatetimeArray".
    db = tmp_path / "early.duckdb"
    with store.new_database(db):
        pass
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False).head(3)
    ae.to_csv(tmp_path / "ae.csv", index=False)
    (result,) = ingest_paths([tmp_path / "ae.csv"], db=db, study_id="CDISCPILOT01", user=people.DATA_MANAGER)
    assert (result.status, result.rows_in, result.rows_quarantined) == ("rejected", 3, 3)
    with store.read_connection(db) as con:
        reasons = con.execute("SELECT reason FROM quarantine ORDER BY row_number").fetchall()
    assert all("is not in DM" in r[0] for r in reasons) and len(reasons) == 3
