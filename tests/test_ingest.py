"""Ingest of the real CDISC pilot study (tests/data/cdiscpilot01; credit CDISC, see its README).

Expected numbers are the README's "Facts for tests", computed from the delivered files.
The full pilot is ingested once per session (``pilot_db``); tests that change data copy it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import people
import pytest
from click.testing import CliRunner
from pandas.testing import assert_frame_equal

from safety import store
from safety.cli.ingest import ingest
from safety.ingest import ingest_bytes, ingest_paths
from safety.ingest.readers import read_dataset
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
PILOT_CSV = [PILOT / f"{d}.csv" for d in ("dm", "ds", "ex", "ae", "suppae", "lb", "vs")]
STUDY = "CDISCPILOT01"


def empty_db(path: Path) -> Path:
    with store.new_database(path):
        pass
    return path


@pytest.fixture(scope="session")
def pilot_db(tmp_path_factory) -> tuple[Path, list]:
    """A database with the whole pilot loaded from CSV (loaded once per session)."""
    db = empty_db(tmp_path_factory.mktemp("pilot") / "pilot.duckdb")
    return db, ingest_paths(PILOT_CSV, db=db, user=people.DATA_MANAGER)


@pytest.fixture()
def pilot_copy(pilot_db, tmp_path) -> Path:
    db = tmp_path / "copy.duckdb"
    shutil.copy(pilot_db[0], db)
    return db


def sql(db: Path, query: str, params: dict | None = None) -> list[tuple]:
    with store.read_connection(db) as con:
        return con.execute(query, params or {}).fetchall()


# --- counts per domain and per arm (README "Facts for tests") ---------------------------------

def test_pilot_every_file_loads_with_nothing_lost(pilot_db):
    _, results = pilot_db
    got = {r.domain: (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) for r in results}
    # README: DM 306, DS 596, EX 591, AE 1191, SUPPAE 1191, LB 59580, VS 29643 rows
    assert got == {
        "DM": ("loaded", 306, 306, 0), "DS": ("loaded", 596, 596, 0),
        "EX": ("loaded", 591, 591, 0), "AE": ("loaded", 1191, 1191, 0),
        "SUPPAE": ("loaded", 1191, 1191, 0), "LB": ("loaded", 59580, 59580, 0),
        "VS": ("loaded", 29643, 29643, 0),
    }
    assert [r.domain for r in results][:2] == ["DM", "DS"]  # DM first: others checked against it


def test_pilot_counts_by_domain_query(pilot_db):
    with store.read_connection(pilot_db[0]) as con:
        counts = queries.ingest.counts_by_domain(con, STUDY).set_index("domain")
    # README: rows / distinct subjects per domain
    assert counts.loc[["DM", "DS", "EX", "AE", "SUPPAE", "LB", "VS"], ["rows", "subjects"]
                      ].values.tolist() == [[306, 306], [596, 306], [591, 254], [1191, 225],
                                            [1191, 225], [59580, 254], [29643, 254]]


def test_pilot_subjects_per_planned_arm_and_screen_failures(pilot_db):
    rows = sql(pilot_db[0], """SELECT coalesce(cohort_id, '-'), count(*) FROM current_subject
                               GROUP BY ALL ORDER BY 1""")
    # README: ARMCD Pbo 86, Xan_Hi 84, Xan_Lo 84, Scrnfail 52 (no cohort, never treated)
    assert rows == [("-", 52), ("Pbo", 86), ("Xan_Hi", 84), ("Xan_Lo", 84)]
    assert sql(pilot_db[0], "SELECT count(*) FROM current_subject WHERE cohort_id IS NULL "
                            "AND status = 'screen failure' AND first_dose_date IS NULL") == [(52,)]
    # README: planned and actual arm differ for 12 subjects (planned high, actual low)
    assert sql(pilot_db[0], "SELECT count(*) FROM current_subject WHERE cohort_id = 'Xan_Hi' "
                            "AND actual_arm_code = 'Xan_Lo'") == [(12,)]


def test_pilot_cohorts_created_from_config_with_doses_matching_ex(pilot_db):
    cohorts = sql(pilot_db[0], """SELECT cohort_id, is_control, dose_level, dose, dose_unit
                                  FROM cohort WHERE study_id = $s ORDER BY cohort_id""",
                  {"s": STUDY})
    assert cohorts == [("Pbo", True, None, None, None), ("Xan_Hi", False, 2, 81.0, "mg"),
                       ("Xan_Lo", False, 1, 54.0, "mg")]
    # README: EXDOSE PLACEBO 0 mg x226, XANOMELINE 54 mg x293 and 81 mg x72. The high dose is
    # reached after a 54 mg start, so the configured dose of an arm is its highest EXDOSE
    # (by the ACTUAL arm: 12 planned-high subjects stayed on the low dose).
    ex = sql(pilot_db[0], """SELECT s.actual_arm_code, max(e.dose) FROM current_exposure e
                             JOIN current_subject s USING (study_id, usubjid)
                             GROUP BY ALL ORDER BY 1""")
    assert ex == [("Pbo", 0.0), ("Xan_Hi", 81.0), ("Xan_Lo", 54.0)]
    doses = sql(pilot_db[0], "SELECT treatment, dose, count(*) FROM current_exposure "
                             "GROUP BY ALL ORDER BY 1, 2")
    assert doses == [("PLACEBO", 0.0, 226), ("XANOMELINE", 54.0, 293), ("XANOMELINE", 81.0, 72)]


def test_pilot_ae_by_arm(pilot_db):
    rows = sql(pilot_db[0], """SELECT s.cohort_id, count(*), count(DISTINCT a.usubjid)
                               FROM current_adverse_event a JOIN current_subject s
                               USING (study_id, usubjid) GROUP BY ALL ORDER BY 1""")
    # README: records by ARM High 455, Low 435, Placebo 301; subjects 79, 77, 69
    assert rows == [("Pbo", 301, 69), ("Xan_Hi", 455, 79), ("Xan_Lo", 435, 77)]


def test_pilot_grades_derived_from_severity(pilot_db):
    rows = sql(pilot_db[0], """SELECT severity, grade, grade_derived, count(*)
                               FROM current_adverse_event GROUP BY ALL ORDER BY 2""")
    # README: AESEV MILD 770, MODERATE 378, SEVERE 43; no AETOXGR -> grade 1/2/3, derived,
    # except the 3 fatal AEs (AEOUT FATAL, AESDTH Y): CTCAE v5.0 grade 5 is death related to AE
    assert rows == [("MILD", 1, True, 770), ("MODERATE", 2, True, 378), ("SEVERE", 3, True, 40),
                    ("SEVERE", 5, True, 3)]


def test_pilot_seriousness_and_relatedness_keep_the_original(pilot_db):
    serious = sql(pilot_db[0], """SELECT serious, serious_raw, count(*) FROM current_adverse_event
                                  GROUP BY ALL ORDER BY 1, 2""")
    # README: AESER=Y 3 records; 33 more with AESER=N have a seriousness criterion Y (AESDTH,
    # AESHOSP, AESLIFE: SDTMIG 3.x / ICH E2A make them serious, AESER kept as delivered)
    assert serious == [(False, "N", 1155), (True, "N", 33), (True, "Y", 3)]
    related = dict(sql(pilot_db[0], """SELECT coalesce(causality, '(blank)'), count(*)
                                       FROM current_adverse_event WHERE related GROUP BY ALL"""))
    # README: PROBABLE 361, POSSIBLE 343; the 4 blank AEREL count as related (conservative)
    assert related == {"PROBABLE": 361, "POSSIBLE": 343, "(blank)": 4}


def test_pilot_partial_start_dates_kept_and_imputed(pilot_db):
    rows = sql(pilot_db[0], """SELECT length(start_dtc), start_imputed, count(*)
                               FROM current_adverse_event GROUP BY ALL ORDER BY 1""")
    # README: AESTDTC 9999 x11, 9999-99 x15, 9999-99-99 x1165
    assert rows == [(4, True, 11), (7, True, 15), (10, False, 1165)]
    assert sql(pilot_db[0], """SELECT count(*) FROM current_adverse_event
                               WHERE start_imputed AND start_date IS NULL""") == [(0,)]


def test_pilot_subject_status_from_ds_and_dm(pilot_db):
    rows = dict(sql(pilot_db[0], "SELECT status, count(*) FROM current_subject GROUP BY ALL"))
    # DS disposition events: COMPLETED 110, SCREEN FAILURE 52, DEATH 3 (= DTHFL Y 3), and
    # 141 other reasons (ADVERSE EVENT 92, WITHDRAWAL BY SUBJECT 27, ...) -> withdrawn
    assert rows == {"completed": 110, "screen failure": 52, "died": 3, "withdrawn": 141}
    reasons = dict(sql(pilot_db[0], """SELECT status_reason, count(*) FROM current_subject
                                       WHERE status = 'withdrawn' GROUP BY ALL"""))
    assert reasons["ADVERSE EVENT"] == 92 and reasons["WITHDRAWAL BY SUBJECT"] == 27


def test_pilot_labs(pilot_db):
    rows = sql(pilot_db[0], """SELECT count(*), count(DISTINCT test_code), count(value),
                                      count(collected_date), sum(baseline_flag::INT)
                               FROM current_lab""")
    # README: 59580 records, 43 LBTESTCDs, LBSTRESN empty in 880; every LBDTC has a date
    assert rows == [(59580, 43, 59580 - 880, 59580, 9233)]
    flags = dict(sql(pilot_db[0], "SELECT coalesce(range_flag, '-'), count(*) FROM current_lab "
                                  "GROUP BY ALL"))
    assert flags == {"NORMAL": 56892, "HIGH": 1505, "LOW": 860, "ABNORMAL": 318, "-": 5}


def test_pilot_study_in_database_with_cutoff(pilot_db):
    rows = sql(pilot_db[0], "SELECT study_id, design, data_cutoff FROM study")
    # README: last RFENDTC 2015-03-05; LBDTC up to 2015-03-05
    # the pilot declares no escalation design: recorded as "none" (safety monitoring only)
    assert [(r[0], r[1], str(r[2])) for r in rows] == [(STUDY, "none", "2015-03-05")]


# --- formats give the same rows --------------------------------------------------------------

def _table_rows(db: Path, table: str, batch_id: int) -> pd.DataFrame:
    with store.read_connection(db) as con:
        frame = con.execute(f"SELECT * EXCLUDE (batch_id) FROM {table} WHERE batch_id = $b "
                            "ORDER BY usubjid, seq", {"b": batch_id}).df()
    return frame.reset_index(drop=True)


@pytest.mark.parametrize("other", ["ae.xpt", "ae.json"])
def test_ae_xpt_and_dataset_json_give_the_same_rows_as_csv(pilot_copy, other):
    result = ingest_paths([PILOT / other], db=pilot_copy, user=people.DATA_MANAGER)[0]
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 1191, 0)
    csv_batch = sql(pilot_copy, "SELECT batch_id FROM ingest_batch WHERE file_name = 'ae.csv'")
    assert_frame_equal(_table_rows(pilot_copy, "adverse_event", result.batch_id),
                       _table_rows(pilot_copy, "adverse_event", csv_batch[0][0]))
    with store.read_connection(pilot_copy) as con:
        summary = queries.ingest.cut_change_summary(con, STUDY).set_index("domain")
    assert summary.loc["AE", ["added", "removed", "changed"]].tolist() == [0, 0, 0]


def test_ae_ndjson_gives_the_same_rows_as_json(tmp_path):
    doc = json.loads((PILOT / "ae.json").read_text())
    rows = doc.pop("rows")
    ndjson = tmp_path / "ae.ndjson"
    ndjson.write_text("\n".join([json.dumps(doc)] + [json.dumps(r) for r in rows]) + "\n")
    a, b = read_dataset(ndjson).frame, read_dataset(PILOT / "ae.json").frame
    assert_frame_equal(a, b)
    assert len(a) == 1191


@pytest.mark.parametrize("stem", ["dm", "ex"])
def test_xpt_gives_the_same_rows_as_csv(tmp_path, stem):
    dbs = {}
    for fmt in ("csv", "xpt"):
        db = empty_db(tmp_path / f"{fmt}.duckdb")
        files = [PILOT / f"dm.{fmt if stem == 'dm' else 'csv'}"]
        if stem != "dm":
            files.append(PILOT / f"{stem}.{fmt}")
        results = ingest_paths(files, db=db, user=people.DATA_MANAGER)
        assert all(r.status == "loaded" and r.rows_quarantined == 0 for r in results), results
        dbs[fmt] = (db, results[-1].batch_id)
    table = {"dm": "subject", "ex": "exposure"}[stem]
    order = "usubjid" if stem == "dm" else "usubjid, seq"

    def rows(db, batch):
        with store.read_connection(db) as con:
            return con.execute(f"SELECT * EXCLUDE (batch_id) FROM {table} WHERE batch_id = $b "
                               f"ORDER BY {order}", {"b": batch}).df()
    assert_frame_equal(rows(*dbs["csv"]), rows(*dbs["xpt"]))


def test_parquet_gives_the_same_rows_as_csv(pilot_copy, tmp_path):
    frame = pd.read_csv(PILOT / "vs.csv", dtype=str, keep_default_na=False)
    frame.to_parquet(tmp_path / "vs.parquet")
    result = ingest_paths([tmp_path / "vs.parquet"], db=pilot_copy, user=people.DATA_MANAGER)[0]
    assert (result.status, result.rows_loaded) == ("loaded", 29643)
    with store.read_connection(pilot_copy) as con:
        changes = queries.ingest.cut_changes(con, STUDY, "VS")
    assert changes.empty


# --- batches, duplicates and data cuts ---------------------------------------------------------

def test_second_run_is_a_duplicate_and_adds_nothing(pilot_copy):
    before = sql(pilot_copy, "SELECT count(*) FROM ingest_batch")
    results = ingest_paths(PILOT_CSV, db=pilot_copy, user=people.DATA_MANAGER)
    assert {r.status for r in results} == {"duplicate"}
    assert all(r.rows_in == r.rows_loaded + r.rows_quarantined == 0 for r in results)
    assert sql(pilot_copy, "SELECT count(*) FROM ingest_batch") == before


def test_new_cumulative_delivery_replaces_current_and_keeps_the_earlier_cut(pilot_copy, tmp_path):
    ae = pd.read_csv(PILOT / "ae.csv", dtype=str, keep_default_na=False)
    new = pd.concat([ae.iloc[1:], ae.iloc[[0]].assign(AESEQ="999", AEDECOD="HEADACHE")])
    new.loc[new.index[5], "AESEV"] = "SEVERE"  # one changed record
    new.to_csv(tmp_path / "ae_cut2.csv", index=False)
    result = ingest_paths([tmp_path / "ae_cut2.csv"], db=pilot_copy, user=people.DATA_MANAGER)[0]
    assert result.status == "loaded" and len(result.superseded) == 1
    assert sql(pilot_copy, "SELECT count(*) FROM current_adverse_event") == [(1191,)]
    # the earlier cut is still reachable by its batch id
    assert sql(pilot_copy, "SELECT count(*) FROM adverse_event WHERE batch_id = $b",
               {"b": result.superseded[0]}) == [(1191,)]
    with store.read_connection(pilot_copy) as con:
        changes = queries.ingest.cut_changes(con, STUDY, "AE")
        ledger = queries.ingest.batch_ledger(con, STUDY)
    assert sorted(changes["change"]) == ["added", "changed", "removed"]
    assert changes.loc[changes.change == "added", "seq"].tolist() == [999]
    superseded = ledger.set_index("batch_id").loc[result.superseded[0]]
    assert superseded["superseded_by"] == result.batch_id and not superseded["current"]


def test_ingest_bytes_upload(pilot_copy):
    data = (PILOT / "ae.json").read_bytes()
    result = ingest_bytes("upload/ae.json", data, db=pilot_copy, user=people.DATA_MANAGER)
    assert (result.file, result.status, result.rows_loaded) == ("ae.json", "loaded", 1191)
    assert sql(pilot_copy, "SELECT loaded_by FROM ingest_batch WHERE batch_id = $b",
               {"b": result.batch_id}) == [("dan",)]  # the data manager
    again = ingest_bytes("ae.json", data, db=pilot_copy, user=people.DATA_MANAGER)
    assert again.status == "duplicate"


# --- the command ------------------------------------------------------------------------------

def test_cli_ingest_folder_json(tmp_path):
    folder = tmp_path / "delivery"
    folder.mkdir()
    for name in ("dm.xpt", "ae.csv", "README.md"):
        shutil.copy(PILOT / name, folder / name)
    db = empty_db(tmp_path / "cli.duckdb")
    result = CliRunner().invoke(ingest, [str(folder), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(b["file"], b["domain"], b["rows_loaded"], b["status"]) for b in doc["batches"]] == [
        ("dm.xpt", "DM", 306, "loaded"), ("ae.csv", "AE", 1191, "loaded")]
    assert set(doc["batches"][0]) >= {"file", "sha256", "domain", "rows_in", "rows_loaded",
                                      "rows_quarantined", "status", "reason"}
    again = CliRunner().invoke(ingest, [str(folder), "--db", str(db), "--json"])
    assert again.exit_code == 0
    assert {b["status"] for b in json.loads(again.stdout)["batches"]} == {"duplicate"}


def test_cli_bad_file_exits_2_with_one_line(tmp_path):
    db = empty_db(tmp_path / "cli.duckdb")
    bad = tmp_path / "ae.xpt"
    bad.write_bytes((PILOT / "ae.csv").read_bytes())  # a CSV named .xpt
    result = CliRunner().invoke(ingest, [str(bad), "--db", str(db)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a SAS transport (XPT) file" in lines[0]


def test_cli_creates_a_missing_database_and_says_so(tmp_path):
    db = tmp_path / "new.duckdb"
    result = CliRunner().invoke(ingest, [str(PILOT / "dm.csv"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"created a new database at {db}" in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM current_subject").fetchall() == [(306,)]


def test_database_unchanged_by_rejected_file(tmp_path):
    db = empty_db(tmp_path / "x.duckdb")
    data = (PILOT / "dm.csv").read_bytes()
    result = ingest_bytes("dm.csv", data[: len(data) // 2] + b'"unterminated', db=db, user=people.DATA_MANAGER)
    assert result.status == "rejected"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ingest_batch").fetchall() == [(0,)]
