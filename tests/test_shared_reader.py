"""The dashboard's reads: one read-only DuckDB instance per file per process (``store.shared``)
that steps aside for writers, and per-patient DLT questions that run the rule on the patient's
rows alone (``in_subject``) yet answer exactly as the whole study's rule does."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from datetime import date

import pandas as pd
import people
import pytest

from safety import store
from safety.demo import generator as demo
from safety.store import queries, shared

STUDY = "NCT04232592"
CUTOFF = date(2021, 1, 15)  # the demo's cut-off (safety.demo.scenario.DEMO_CUTOFF)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """The demo with a rejected candidate and a DLT added by hand, so every branch of the DLT
    rule (AE and lab candidates, adjudications, manual DLTs) has rows."""
    path = tmp_path_factory.mktemp("shared") / "demo.duckdb"
    demo.build_demo(path)
    with store.read_connection(path) as con:
        events = queries.dlt.dlt_events(con, STUDY, CUTOFF)
    med = events[events["cohort_id"] == "MED"].iloc[0]
    people.adjudicate(path, STUDY, med["usubjid"], "adverse_event", int(med["source_seq"]),
                      "rejected", "Present at screening")  # fmt: skip
    low = events[events["cohort_id"] == "LOW"]["usubjid"]
    subject = low.iloc[0] if len(low) else med["usubjid"]
    people.adjudicate(path, STUDY, subject, "manual", None, "added", "Investigator's report",
                      onset_date=CUTOFF, description="Severe pelvic pain")  # fmt: skip
    return path


def test_a_pages_reads_share_one_instance_and_each_thread_gets_its_own_cursor(db):
    shared.close(db)
    opened = store.shared_reader(db).opens
    results, errors = [], []

    def read():
        try:
            with store.shared_read_connection(db) as con:  # the rules' macros on every cursor
                results.append(len(queries.dlt.subject_dlt_states(con, STUDY, CUTOFF)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [32] * 4  # the demo's 32 women
    assert store.shared_reader(db).opens == opened + 1


def test_b_a_write_in_this_process_closes_the_instance_and_the_next_read_sees_it(db):
    with store.shared_read_connection(db) as con:
        before = queries.database.data_version(con)
    people.adjudicate(db, STUDY, *_first_candidate(db), "confirmed", "Reviewed")  # no lock wait
    with store.shared_read_connection(db) as con:
        assert queries.database.data_version(con) != before


def test_c_a_writer_in_another_process_gets_in_while_this_process_reads_on(db):
    with store.shared_read_connection(db) as con:
        con.execute("SELECT 1")
    code = (
        "from safety import store\n"
        f"with store.write_connection({str(db)!r}, wait=20) as con:\n"
        "    con.execute(\"UPDATE study SET title = title || ' (checked)'\")\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    while writer.poll() is None:  # keep reading meanwhile, as a busy dashboard does
        with store.shared_read_connection(db) as con:
            con.execute("SELECT count(*) FROM current_subject").fetchall()
    assert writer.returncode == 0, writer.stderr.read()
    with store.shared_read_connection(db) as con:
        title = con.execute("SELECT title FROM study WHERE study_id = ?", [STUDY]).fetchone()[0]
    assert title.endswith("(checked)")


def test_d_a_database_replaced_by_a_new_build_is_read_at_once(db, tmp_path):
    path = tmp_path / "replaced.duckdb"
    shutil.copy(db, path)
    with store.shared_read_connection(path) as con:
        assert queries.database.row_counts(con)["subject"] == 32
    demo.build_demo(path, subjects=36)  # os.replace while the instance may still be open
    with store.shared_read_connection(path) as con:
        assert queries.database.row_counts(con)["subject"] == 36


def _first_candidate(db) -> tuple[str, str, int]:
    with store.read_connection(db) as con:
        row = queries.dlt.dlt_events(con, STUDY, CUTOFF).iloc[-1]
    return row["usubjid"], row["source"], int(row["source_seq"])


def test_e_one_patients_dlt_state_and_events_are_the_whole_studys_rows(db):
    with store.read_connection(db) as con:
        params = {"s": STUDY, "c": CUTOFF}
        states = con.execute("SELECT * FROM subject_dlt_state($s, $c)", params).df()
        events = con.execute("SELECT * FROM dlt_event($s, $c)", params).df()
        assert set(events["source"]) >= {"adverse_event", "manual"}
        assert events["dlt_status"].isin(["rejected"]).any()
        for usubjid in states["usubjid"]:
            mine = {**params, "u": usubjid}
            state = con.execute("SELECT * FROM subject_dlt_state($s, $c, in_subject := $u)",
                                mine).df()  # fmt: skip
            pd.testing.assert_frame_equal(
                state,
                states[states["usubjid"] == usubjid].reset_index(drop=True),
                check_dtype=False,
            )  # a column without NULLs comes back int64, not Int64
            hers = con.execute("SELECT * FROM dlt_event($s, $c, in_subject := $u)", mine).df()
            expected = events[events["usubjid"] == usubjid]
            key = ["source", "source_seq", "decided_at"]
            assert _records(hers.sort_values(key)) == _records(expected.sort_values(key))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, every missing value None (an all-NULL column comes back typed apart)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
