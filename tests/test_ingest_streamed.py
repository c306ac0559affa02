"""A large file is read and validated in chunks; grades are refreshed only where they changed.

The spec is the whole-file load: the same pilot LB rows (tests/data/cdiscpilot01, credit CDISC),
with bad rows planted, loaded once read whole and once read in chunks of 1,000 rows (the chunk
size and the size from which a CSV streams are lowered for the test, the readers are the real
ones) must give the same lab rows, grades and quarantine: rule, reasons and row numbers, a key
repeated in two chunks included. Then deliveries that change one subject must leave
``lab_graded`` equal to grading the whole study again, having graded only that subject.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import people
import pytest
from pandas.testing import assert_frame_equal

from safety import store
from safety.ingest import ingest_paths, readers
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
ROWS = 5_000  # five chunks of 1,000


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """DM, and an LB of 5,000 pilot rows as CSV and Parquet with four bad rows planted."""
    folder = tmp_path_factory.mktemp("streamed")
    lb = pd.read_csv(PILOT / "lb.csv", dtype=str, keep_default_na=False).head(ROWS)
    lb.loc[9, ["USUBJID", "LBSEQ"]] = lb.loc[4_500, ["USUBJID", "LBSEQ"]].to_numpy()  # row 10
    lb.loc[19, "LBDTC"] = "9999-12-31"  # implausible_date
    lb.loc[2_999, "LBSTRESN"] = "abc"  # wrong_type
    lb.loc[3_999, "USUBJID"] = "01-999-9999"  # not_in_dm
    lb.to_csv(folder / "lb.csv", index=False)
    lb.to_parquet(folder / "lb.parquet", index=False)
    return {"dm": PILOT / "dm.csv", "csv": folder / "lb.csv", "parquet": folder / "lb.parquet"}


@pytest.fixture(scope="module")
def dm_db(files, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("dm") / "dm.duckdb"
    with store.new_database(db):
        pass
    ingest_paths([files["dm"]], db=db, user=people.DATA_MANAGER)
    return db


def load(dm_db: Path, path: Path, folder: Path, *, chunked: bool):
    db = folder / f"{path.suffix[1:]}-{'chunked' if chunked else 'whole'}.duckdb"
    shutil.copy(dm_db, db)
    with pytest.MonkeyPatch.context() as mp:
        if chunked:
            mp.setattr(readers, "CHUNK_ROWS", 1_000)
            mp.setattr(readers, "STREAM_BYTES", 0)
            mp.setattr(readers, "CSV_BLOCK_BYTES", 64 << 10)  # ~440 rows: blocks regrouped
        assert readers.read_dataset(path).streamed is chunked
        result = ingest_paths([path], db=db, user=people.DATA_MANAGER)[0]
    return db, result


def tables(db: Path) -> dict[str, pd.DataFrame]:
    with store.read_connection(db) as con:
        return {
            "lab": con.execute("SELECT * EXCLUDE (batch_id) FROM lab ORDER BY usubjid, seq, "
                               "collected_dtc, value").df(),
            "graded": con.execute("SELECT * EXCLUDE (batch_id) FROM lab_graded "
                                  "ORDER BY usubjid, seq, collected_dtc, value").df(),
            "quarantine": con.execute("SELECT row_number, raw_record, reason, rule, rules "
                                      "FROM quarantine ORDER BY row_number").df(),
        }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_read_in_chunks_loads_as_the_whole_file(fmt, files, dm_db, tmp_path):
    whole_db, whole = load(dm_db, files[fmt], tmp_path, chunked=False)
    chunked_db, chunked = load(dm_db, files[fmt], tmp_path, chunked=True)
    assert (chunked.status, chunked.rows_in, chunked.rows_loaded, chunked.rows_quarantined) == (
        whole.status, whole.rows_in, whole.rows_loaded, whole.rows_quarantined)
    # planted: rows 10 and 4501 share a key (chunks 1 and 5), 20, 3000 and 4000 are bad
    assert (chunked.rows_in, chunked.rows_quarantined) == (ROWS, 5)
    a, b = tables(whole_db), tables(chunked_db)
    assert b["quarantine"]["row_number"].tolist() == [10, 20, 3000, 4000, 4501]
    assert b["quarantine"]["rule"].tolist() == [
        "duplicate_key", "implausible_date", "wrong_type", "not_in_dm", "duplicate_key"]
    for name in a:
        assert_frame_equal(b[name], a[name], check_dtype=False)
    with store.read_connection(chunked_db) as con:  # stored in the order the pages read them
        order = con.execute("SELECT usubjid FROM lab").df()["usubjid"]
    assert order.is_monotonic_increasing


def test_grades_are_refreshed_only_for_the_subjects_that_changed(files, dm_db, tmp_path):
    db, _ = load(dm_db, files["csv"], tmp_path, chunked=False)
    lb = pd.read_csv(files["csv"], dtype=str, keep_default_na=False)
    subject = lb.loc[0, "USUBJID"]
    lb.loc[0, "LBSTRESN"] = "999"  # one result of one subject changes
    changed = tmp_path / "lb-again.csv"
    lb.to_csv(changed, index=False)
    assert ingest_paths([changed], db=db, user=people.DATA_MANAGER)[0].status == "loaded"
    with store.write_connection(db) as con:
        rows = con.execute("SELECT count(*) FROM current_lab WHERE usubjid = $u",
                           {"u": subject}).fetchone()[0]
        stored = con.execute("SELECT * FROM lab_graded ORDER BY usubjid, seq").df()
        # a refresh with nothing changed grades nobody; with everything, the whole study
        assert queries.labs.refresh_lab_grades(con, "CDISCPILOT01") == 0
        full = queries.labs.refresh_lab_grades(con, "CDISCPILOT01", whole_study=True)
        regraded = con.execute("SELECT * FROM lab_graded ORDER BY usubjid, seq").df()
    assert 0 < rows < full
    assert_frame_equal(stored, regraded)  # the partial refresh left what a full one gives


def test_a_csv_row_longer_than_a_block_refuses_the_file_saying_so(dm_db, tmp_path, monkeypatch):
    # Arrow parses a large CSV block by block and cannot split a row across two: the file is
    # refused whole with the reason, nothing of it loaded.
    lb = pd.read_csv(PILOT / "lb.csv", dtype=str, keep_default_na=False).head(3_000)
    lb.loc[1_500, "LBORRES"] = "x" * 200_000
    lb.to_csv(tmp_path / "lb.csv", index=False)
    db = tmp_path / "long-row.duckdb"
    shutil.copy(dm_db, db)
    monkeypatch.setattr(readers, "STREAM_BYTES", 0)
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 64 << 10)
    result = ingest_paths([tmp_path / "lb.csv"], db=db, user=people.DATA_MANAGER)[0]
    assert result.status == "rejected"
    assert result.reason == ("lb.csv: a row is longer than 0.0625 MB, the most a row of a large "
                             "CSV may take")
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM lab").fetchone() == (0,)
