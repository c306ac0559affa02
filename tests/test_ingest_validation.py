"""Validation, quarantine and unreadable files: one crafted bad file per rule (in tmp_path).

Bad files are made from the first rows of the real pilot AE/DM (tests/data/cdiscpilot01) with
one value changed, so each test shows exactly which value breaks which rule.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pandas as pd
import people
import pytest
from pandas.testing import assert_frame_equal

from safety import store
from safety.ingest import ingest_paths
from safety.ingest.domains import impute_ae_start
from safety.ingest.validate import Issues, iso_dates
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
STUDY = "CDISCPILOT01"


@pytest.fixture(scope="module")
def dm_db(tmp_path_factory) -> Path:
    """A database holding only the pilot's DM (the subjects other domains are checked against)."""
    db = tmp_path_factory.mktemp("dm") / "dm.duckdb"
    with store.new_database(db):
        pass
    assert ingest_paths([PILOT / "dm.csv"], db=db, user=people.DATA_MANAGER)[0].status == "loaded"
    return db


@pytest.fixture()
def db(dm_db, tmp_path) -> Path:
    copy = tmp_path / "t.duckdb"
    shutil.copy(dm_db, copy)
    return copy


def ae_rows(n: int = 10) -> pd.DataFrame:
    return pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False).head(n)


def load_csv(frame: pd.DataFrame, path: Path, db: Path):
    frame.to_csv(path, index=False)
    result = ingest_paths([path], db=db, user=people.DATA_MANAGER)[0]
    assert result.rows_in == result.rows_loaded + result.rows_quarantined
    return result


def quarantine(db: Path) -> pd.DataFrame:
    with store.read_connection(db) as con:
        return queries.ingest.quarantined_rows(con, STUDY)


def batches(db: Path) -> int:
    with store.read_connection(db) as con:
        return len(queries.ingest.batch_ledger(con))


@pytest.mark.parametrize("column, value, rule, reason", [
    ("AESEQ", "abc", "wrong_type", "AESEQ 'abc' is not a number"),
    ("AESEQ", "1.5", "wrong_type", "AESEQ '1.5' is not a whole number"),
    ("AESTDTC", "2013-13-45", "wrong_type", "AESTDTC '2013-13-45' is not an ISO 8601 date"),
    ("AESTDTC", "12/01/2013", "wrong_type", "AESTDTC '12/01/2013' is not an ISO 8601 date"),
    ("AESEV", "VERY BAD", "unknown_term", "AESEV 'VERY BAD' is not in the AESEV (C66769) terms"),
    ("AESER", "MAYBE", "unknown_term", "AESER 'MAYBE' is not in the NY (C66742) terms"),
    ("AEOUT", "BETTER", "unknown_term", "AEOUT 'BETTER' is not in the OUT (C66768) terms"),
    ("AEENDTC", "2000-01-01", "end_before_start", "AEENDTC '2000-01-01' is before AESTDTC"),
    ("USUBJID", "01-999-0000", "not_in_dm", "USUBJID '01-999-0000' is not in DM"),
    ("STUDYID", "OTHERSTUDY", "wrong_study", "STUDYID 'OTHERSTUDY' is not CDISCPILOT01"),
    ("AEDECOD", "", "missing_value", "AEDECOD is blank"),
])
def test_bad_value_quarantines_only_that_row(db, tmp_path, column, value, rule, reason):
    frame = ae_rows()
    frame.loc[3, column] = value
    result = load_csv(frame, tmp_path / "ae.csv", db)
    assert (result.status, result.rows_in, result.rows_loaded, result.rows_quarantined) == (
        "loaded", 10, 9, 1)
    q = quarantine(db)
    assert q[["row_number", "rule"]].values.tolist() == [[4, rule]]
    assert reason in q.loc[0, "reason"]
    raw = json.loads(q.loc[0, "raw_record"])
    assert raw[column] == value and raw["AETERM"] == frame.loc[3, "AETERM"]  # as delivered


# issue 14, defects 3 and 4: inf and 1e400 were graded CTCAE grade 4, a 10^30 AESEQ and AGE inf
# ended in a traceback, a 9999-12-31 start moved the study's data cut-off.
IMPLAUSIBLE = {
    "lb": [("LBSTRESN", "inf", "LBSTRESN 'inf' is not a finite number"),
           ("LBSTRESN", "Infinity", "LBSTRESN 'Infinity' is not a finite number"),
           ("LBSTRESN", "1e400", "LBSTRESN '1e400' is not a finite number"),
           ("LBSTRESN", "NaN", "LBSTRESN 'NaN' is not a number"),
           ("LBSTRESN", "2e12", "LBSTRESN '2e12' is beyond 1e+12"),
           ("LBSTNRHI", "-inf", "LBSTNRHI '-inf' is not a finite number")],
    "ae": [("AESEQ", "1e30", "AESEQ '1e30' is beyond"),
           ("AESTDTC", "9999-12-31", "AESTDTC '9999-12-31' is after the delivery"),
           ("AEENDTC", "1899-12-31", "AEENDTC '1899-12-31' is before 1900-01-01")],
    "dm": [("AGE", "inf", "AGE 'inf' is not a finite number"),
           ("AGE", "200", "AGE '200' is outside 0-130"), ("AGE", "-1", "AGE '-1' is outside 0-130"),
           ("AGE", "1e30", "AGE '1e30' is beyond")],
}


@functools.cache
def pilot_rows(domain: str, n: int = 10) -> pd.DataFrame:
    return pd.read_csv(PILOT / f"{domain}.csv", dtype=str, keep_default_na=False, nrows=n)


@pytest.mark.parametrize("domain", ["lb", "ae", "dm"])
def test_4_implausible_values_are_quarantined_never_loaded_nor_graded(dm_db, tmp_path, domain):
    db = tmp_path / "t.duckdb"
    if domain != "dm":
        shutil.copy(dm_db, db)
    frame = pilot_rows(domain, 40).copy()  # under 20 % quarantined: not held
    cases = IMPLAUSIBLE[domain]
    for row, (column, value, _) in enumerate(cases):
        frame.loc[row, column] = value
    result = load_csv(frame, tmp_path / f"{domain}.csv", db)
    assert (result.status, result.rows_quarantined) == ("loaded", len(cases))
    q = quarantine(db)
    assert q["row_number"].tolist() == list(range(1, len(cases) + 1))
    for reason, (_, _, expected) in zip(q["reason"], cases, strict=True):
        assert expected in reason
    with store.read_connection(db) as con:
        assert con.execute("SELECT count(*) FROM lab WHERE NOT isfinite(value) OR value > 1e12 "
                           "OR NOT isfinite(uln)").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM subject WHERE age NOT BETWEEN 0 AND 130"
                           ).fetchall() == [(0,)]
        assert con.execute("SELECT data_cutoff < DATE '2100-01-01' FROM study").fetchall() == [
            (True,)]


def test_grade_outside_1_to_5(db, tmp_path):
    frame = ae_rows().assign(AETOXGR="2")
    frame.loc[1, "AETOXGR"] = "7"
    frame.loc[2, "AETOXGR"] = "0"
    result = load_csv(frame, tmp_path / "ae.csv", db)
    assert result.rows_quarantined == 2
    q = quarantine(db)
    assert q["rule"].tolist() == ["grade_out_of_range"] * 2
    assert "AETOXGR '7' is not a CTCAE grade 1-5" in q.loc[0, "reason"]
    with store.read_connection(db) as con:  # a given AETOXGR is used as is, not derived
        assert con.execute("SELECT DISTINCT grade, grade_derived FROM current_adverse_event"
                           ).fetchall() == [(2, False)]


def test_duplicate_keys_quarantine_every_occurrence(db, tmp_path):
    frame = ae_rows()
    frame.loc[5, "AESEQ"] = frame.loc[4, "AESEQ"]
    frame.loc[5, "USUBJID"] = frame.loc[4, "USUBJID"]
    result = load_csv(frame, tmp_path / "ae.csv", db)
    assert (result.rows_loaded, result.rows_quarantined) == (8, 2)
    q = quarantine(db)
    assert q["row_number"].tolist() == [5, 6] and set(q["rule"]) == {"duplicate_key"}
    assert "duplicate key USUBJID + AESEQ" in q.loc[0, "reason"]


def test_several_reasons_on_one_row_are_all_given(db, tmp_path):
    frame = ae_rows()
    frame.loc[0, ["AESEV", "AESTDTC"]] = ["HUGE", "yesterday"]
    load_csv(frame, tmp_path / "ae.csv", db)
    reason = quarantine(db).loc[0, "reason"]
    assert "AESEV 'HUGE'" in reason and "AESTDTC 'yesterday'" in reason


def test_unknown_arm_in_dm_is_quarantined(tmp_path):
    db = tmp_path / "empty.duckdb"
    with store.new_database(db):
        pass
    dm = pd.read_csv(PILOT / "dm.csv", dtype=str, keep_default_na=False).head(5)
    dm.loc[2, ["ARMCD", "ARM"]] = ["Xan_Mid", "Xanomeline Mid Dose"]
    result = load_csv(dm, tmp_path / "dm.csv", db)
    assert (result.rows_loaded, result.rows_quarantined) == (4, 1)
    assert "ARMCD 'Xan_Mid' / ARM 'Xanomeline Mid Dose' matches no cohort" in quarantine(db).loc[
        0, "reason"]


def test_missing_required_columns_rejects_the_file_with_the_list(db, tmp_path):
    before = batches(db)
    result = load_csv(ae_rows().drop(columns=["AEDECOD", "AESER"]), tmp_path / "ae.csv", db)
    assert result.status == "rejected"
    assert result.reason == "ae.csv (AE) lacks required columns: AEDECOD, AESER"
    assert batches(db) == before


def test_every_row_bad_is_rejected_and_does_not_replace_the_current_delivery(db, tmp_path):
    good = load_csv(ae_rows(), tmp_path / "ae.csv", db)
    bad = load_csv(ae_rows().assign(USUBJID="01-999-0000"), tmp_path / "ae2.csv", db)
    assert (bad.status, bad.rows_quarantined) == ("rejected", 10)
    with store.read_connection(db) as con:
        ledger = queries.ingest.batch_ledger(con, STUDY).set_index("batch_id")
        assert con.execute("SELECT count(*) FROM current_adverse_event").fetchall() == [(10,)]
    assert ledger.loc[good.batch_id, "current"] and ledger.loc[bad.batch_id, "status"] == "rejected"
    assert len(quarantine(db)) == 10  # the rows are browsable with their reasons


# --- unreadable files: rejected with one line, database unchanged ------------------------------

def _craft(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, make, expected", [
    ("ae.xpt", lambda: (PILOT / "ae.xpt").read_bytes()[:50_000], "ends inside an observation"),
    ("ae.xpt", lambda: (PILOT / "ae.csv").read_bytes(), "is not a SAS transport (XPT) file"),
    ("ae.csv", lambda: (PILOT / "ae.csv").read_text().replace("HEADACHE", "CÉPHALÉE").encode(
        "latin-1"), "cannot be read as CSV"),
    ("ae.csv", lambda: (PILOT / "ae.csv").read_bytes()[:100_000], "cannot be read as CSV"),
    ("ae.json", lambda: (PILOT / "ae.json").read_bytes()[:100_000], "cannot be read as Dataset"),
    ("ae.json", lambda: json.dumps({**json.loads((PILOT / "ae.json").read_text()),
                                    "records": 2000}).encode(), "declares 2000 records"),
    ("ae.parquet", lambda: (PILOT / "ae.json").read_bytes(), "is not a Parquet file"),
    ("ae.csv", lambda: b"", "is empty"),
    ("ae.json", lambda: b'{"rows": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "nests values too deeply"),  # issue 14, defect 4: a RecursionError traceback before
    ("ae.csv", lambda: b"STUDYID,DOMAIN\nsecret line, of a file,not,this\n",
     "cannot be read as CSV"),
    ("mh.csv", lambda: b"STUDYID,DOMAIN,USUBJID\nCDISCPILOT01,MH,01-701-1015\n", "holds domain MH"),
])
def test_unreadable_file_is_rejected_and_changes_nothing(db, tmp_path, name, make, expected):
    before = (PILOT.stat(), batches(db), db.read_bytes())
    result = ingest_paths([_craft(tmp_path, name, make())], db=db, user=people.DATA_MANAGER)[0]
    assert result.status == "rejected" and expected in result.reason, result.reason
    assert "\n" not in result.reason and "secret" not in result.reason  # never the content
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (0, 0, 0)
    assert batches(db) == before[1] and db.read_bytes() == before[2]


# --- partial dates ------------------------------------------------------------------------------

def test_iso_dates_keep_partial_values_with_their_range():
    raw = pd.DataFrame({"AESTDTC": ["2013-07", "2013", "2013-07-14T10:30", "", "2013-02-30"]})
    issues = Issues(raw.index)
    got = iso_dates(raw, "AESTDTC", issues)
    expected = pd.DataFrame({
        "dtc": ["2013-07", "2013", "2013-07-14T10:30", None, "2013-02-30"],
        "precision": ["month", "year", "day", None, None],
        "low": pd.to_datetime(["2013-07-01", "2013-01-01", "2013-07-14", None, None]),
        "high": pd.to_datetime(["2013-07-31", "2013-12-31", "2013-07-14", None, None]),
    }).astype({"dtc": "str", "precision": "str"})
    assert_frame_equal(got, expected, check_dtype=False)
    assert issues.bad.tolist() == [False, False, False, False, True]  # 30 February


def test_partial_ae_start_imputed_to_first_dose_when_it_may_be_on_treatment():
    # admiral derive_vars_dt(date_imputation = "first", min_dates = TRTSDT)
    expected = pd.DataFrame([
        ("2013-07", "", "2013-07-10", "2013-07-10"),   # dose inside the month: first dose
        ("2013-07", "", "2013-08-02", "2013-07-01"),   # dose after the month: first of month
        ("2013-07", "", "2013-06-20", "2013-07-01"),   # dose before: first of month
        ("2013", "", "2013-03-05", "2013-03-05"),      # year only, dose that year
        ("2013-07", "2013-07-05", "2013-07-10", "2013-07-01"),  # ended before the dose
        ("2013-07-20", "", "2013-07-10", "2013-07-20"),  # complete dates are kept
    ], columns=["AESTDTC", "AEENDTC", "first_dose", "start_date"])
    issues = Issues(expected.index)
    start = iso_dates(expected, "AESTDTC", issues)
    end = iso_dates(expected, "AEENDTC", issues)
    got, imputed = impute_ae_start(start, end, pd.to_datetime(expected["first_dose"]))
    assert got.dt.strftime("%Y-%m-%d").tolist() == expected["start_date"].tolist()
    assert imputed.tolist() == [True, True, True, True, True, False]
