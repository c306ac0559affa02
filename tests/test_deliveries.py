"""Deliveries that can't silently change the safety picture (issue 14): holds, confirmation,
rejection, retraction, content order, rows waiting for DM, incremental deliveries.

Everything runs on the real CDISC pilot (tests/data/cdiscpilot01, credit CDISC; its README's
"Facts for tests" give the expected counts) through the real readers into real DuckDB files.
Numbered tests reproduce the numbered defects of issue 14; each fails on the code before it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import people
import pytest
import studies
from click.testing import CliRunner

from safety import pipeline, store
from safety.cli.ingest import ingest as ingest_command
from safety.config import stored_study_config
from safety.errors import IngestError
from safety.ingest import (
    held_deliveries,
    ingest_paths,
    reject_delivery,
)
from safety.ingest.files import ingest_file
from safety.ingest.load import load_dataset
from safety.ingest.readers import read_dataset
from safety.store import queries

PILOT = Path(__file__).parent / "data" / "cdiscpilot01"
STUDY = "CDISCPILOT01"
BASE = ("dm", "ds", "ex", "ae", "suppae")
# README, "Facts for tests": AESER = Y in 3 records of 3 subjects (SYNCOPE x2, PARTIAL SEIZURES
# WITH SECONDARY GENERALISATION); 225 subjects with an AE; DM 306 subjects.
README_SAES = {("01-709-1424", "SYNCOPE"), ("01-718-1170", "SYNCOPE"),
               ("01-718-1371", "PARTIAL SEIZURES WITH SECONDARY GENERALISATION")}
SERIOUSNESS = ("AESDTH", "AESHOSP", "AESLIFE", "AESDISAB", "AESCONG", "AESMIE")


def serious(ae: pd.DataFrame) -> pd.DataFrame:
    """The serious AE records: AESER = Y or any seriousness criterion Y (SDTMIG 3.x, ICH E2A;
    README conventions). The pilot has 3 with AESER = Y and 33 with AESER = N but a criterion."""
    criteria = ae[[c for c in SERIOUSNESS if c in ae]] == "Y"
    return ae[(ae["AESER"] == "Y") | criteria.any(axis=1)]


@pytest.fixture(scope="module")
def pilot(tmp_path_factory) -> Path:
    """The pilot's DM, DS, EX, AE and SUPPAE in a new database, with its alert baseline.

    Recorded with the test-only DLT definition (tests/studies.py): holds must protect real DLT
    candidates, and the shipped pilot configuration, a parallel-group study's, defines none."""
    db = tmp_path_factory.mktemp("deliveries") / "pilot.duckdb"
    with studies.pilot_with_dlts():
        results = ingest_paths([PILOT / f"{d}.csv" for d in BASE], db=db,
                               user=people.DATA_MANAGER)
    assert [r.status for r in results] == ["loaded"] * 5
    pipeline.raise_alerts(db)
    return db


@pytest.fixture()
def db(pilot, tmp_path) -> Path:
    copy = tmp_path / "pilot.duckdb"
    shutil.copy(pilot, copy)
    return copy


def frame(name: str) -> pd.DataFrame:
    return pd.read_csv(PILOT / f"{name}.csv", dtype=str, keep_default_na=False)


def write(data: pd.DataFrame, path: Path) -> Path:
    data.to_csv(path, index=False)
    return path


def sql(db: Path, query: str, params: dict | None = None) -> list[tuple]:
    with store.read_connection(db) as con:
        return con.execute(query, params or {}).fetchall()


def dlt_candidates(db: Path) -> set[tuple[str, int]]:
    """(USUBJID, AESEQ) of the AE-based DLT candidates, by the DLT rule's macro."""
    return set(sql(db, "SELECT usubjid, source_seq FROM dlt_event($s, DATE '9999-12-31') "
                       "WHERE source = 'adverse_event'", {"s": STUDY}))


def current_ae_rows(db: Path) -> int:
    return sql(db, "SELECT count(*) FROM current_adverse_event")[0][0]


# --- 1. a short, truncated or mostly quarantined delivery no longer replaces the domain ------

def test_1a_truncated_cumulative_ae_is_held_naming_the_dlts_and_saes_it_would_remove(db, tmp_path):
    ae = frame("ae")
    before = dlt_candidates(db)
    kept = set(zip(ae["USUBJID"].head(386), ae["AESEQ"].head(386).astype(int), strict=True))
    result = ingest_paths([write(ae.head(386), tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert result.status == "held" and result.hold_id is not None, result.reason
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (0, 0, 0)
    c = result.comparison
    assert (c.current_records, c.removed_records) == (1191, 1191 - 386)
    # the DLT candidates named are exactly those whose AE record the truncated file lacks
    named = {(d["usubjid"], d["term"]) for d in c.removed["dlts"]}
    expected = {k for k in before if k not in kept}
    assert len(c.removed["dlts"]) == len(expected) > 0
    assert {u for u, _ in named} == {u for u, _ in expected}
    sae = serious(ae)
    removed_serious = {(u, p) for u, p, seq in zip(sae["USUBJID"], sae["AEDECOD"], sae["AESEQ"],
                                                   strict=True) if (u, int(seq)) not in kept}
    saes = {(s["usubjid"], s["pt"]) for s in c.removed["saes"]}
    assert saes == removed_serious and README_SAES <= saes
    assert "SYNCOPE" in result.reason and "DLT candidate(s) would disappear" in result.reason
    # nothing changed: the current cut, the DLTs and the ledger are as before
    assert current_ae_rows(db) == 1191 and dlt_candidates(db) == before
    assert sql(db, "SELECT count(*) FROM ingest_batch WHERE domain = 'AE'") == [(1,)]


def test_1b_one_subject_cumulative_ae_is_held_naming_the_subjects_it_would_empty(db, tmp_path):
    ae = frame("ae")
    one = ae[ae["USUBJID"] == "01-718-1170"]  # a subject with an SAE (README)
    result = ingest_paths([write(one, tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert result.status == "held"
    # README: 225 subjects have an AE; all but this one would be left without any
    assert len(result.comparison.removed_subjects) == 224
    assert {s["usubjid"] for s in result.comparison.removed["saes"]} == set(
        serious(ae)["USUBJID"]) - {"01-718-1170"} >= {"01-709-1424", "01-718-1371"}
    assert current_ae_rows(db) == 1191


def test_1c_a_file_mostly_quarantined_is_held_not_loaded(db, tmp_path):
    ae = frame("ae")
    ae.loc[1:, "AESEV"] = "VERY BAD"  # 1,190 of 1,191 rows fail the AESEV terms
    result = ingest_paths([write(ae, tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert result.status == "held"
    assert "1190 of 1191 rows quarantined (99.9%; the protocol tolerates 20%)" in result.reason
    held = held_deliveries(db, STUDY).iloc[0]
    assert (held["rows_in"], held["rows_loaded"], held["rows_quarantined"]) == (1191, 1, 1190)
    assert current_ae_rows(db) == 1191 and sql(db, "SELECT count(*) FROM quarantine") == [(0,)]


def test_1d_confirming_a_hold_loads_its_kept_content_with_the_reason_audited(db, tmp_path):
    path = write(frame("ae").head(386), tmp_path / "ae.csv")
    held = ingest_paths([path], db=db, user=people.DATA_MANAGER)[0]
    path.unlink()  # the hold keeps the content: nothing needs to be sent again
    result = people.confirm(db, held.hold_id, "site re-exported after a crash")
    assert (result.status, result.rows_loaded, result.hold_id) == ("loaded", 386, held.hold_id)
    assert current_ae_rows(db) == 386
    hold = held_deliveries(db, STUDY).iloc[0]
    assert (hold["status"], hold["decided_by"], hold["batch_id"]) == (
        "confirmed", people.DATA_MANAGER.id, result.batch_id)
    actor, detail = sql(db, "SELECT actor, detail FROM audit_log "
                            "WHERE action = 'delivery.confirm'")[0]
    assert actor == people.DATA_MANAGER.id
    assert json.loads(detail)["reason"] == "site re-exported after a crash"
    assert json.loads(detail)["comparison"]["removed_records"] == 805
    # signed (issue 15): the signature names the signer and its meaning, over the new batch
    assert sql(db, "SELECT signed_by, meaning, record_table, record_id FROM signature") == [
        (people.DATA_MANAGER.id, "I confirm this delivery for use in the study", "ingest_batch",
         result.batch_id)]
    with pytest.raises(IngestError, match=f"no longer pending: confirmed by {people.DATA_MANAGER.id}"):
        people.confirm(db, held.hold_id, "again")


def test_1e_rejecting_a_hold_changes_nothing_and_is_audited(db, tmp_path):
    held = ingest_paths([write(frame("ae").head(386), tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    with pytest.raises(IngestError, match="needs a reason"):
        reject_delivery(db, held.hold_id, people.DATA_MANAGER, "  ")
    result = reject_delivery(db, held.hold_id, people.DATA_MANAGER, "truncated by the EDC export")
    assert result.status == "rejected" and current_ae_rows(db) == 1191
    assert held_deliveries(db, STUDY).iloc[0]["status"] == "rejected"
    assert sql(db, "SELECT actor FROM audit_log WHERE action = 'ingest.reject'") == [
        (people.DATA_MANAGER.id,)]
    again = ingest_paths([tmp_path / "ae.csv"], db=db, user=people.DATA_MANAGER)[0]  # sent again: held again, not lost
    assert again.status == "held" and again.hold_id != held.hold_id


def test_1f_a_confirmation_that_no_longer_matches_the_data_is_held_again(db, tmp_path):
    dm = frame("dm")
    held = ingest_paths([write(dm[dm["USUBJID"] != "01-709-1424"], tmp_path / "dm.csv")],
                        db=db, user=people.DATA_MANAGER)[0]
    assert held.status == "held" and held.comparison.removed_subjects == ("01-709-1424",)
    assert [s["pt"] for s in held.comparison.removed["saes"]] == ["SYNCOPE"]
    # meanwhile a new SAE of the same subject arrives: the DM would now remove two SAEs
    ae = frame("ae")
    extra = ae[ae["USUBJID"] == "01-709-1424"].tail(1).assign(AESEQ="99", AESER="Y",
                                                              AEDECOD="FALL")
    assert ingest_paths([write(pd.concat([ae, extra]), tmp_path / "ae.csv")],
                        db=db, user=people.DATA_MANAGER)[0].status == "loaded"
    again = people.confirm(db, held.hold_id, "subject withdrew consent")
    assert again.status == "held" and again.hold_id == held.hold_id
    assert sorted(s["pt"] for s in again.comparison.removed["saes"]) == ["FALL", "SYNCOPE"]
    done = people.confirm(db, held.hold_id, "subject withdrew consent")
    assert done.status == "loaded"


def test_1g_a_later_cumulative_delivery_supersedes_a_pending_hold(db, tmp_path):
    held = ingest_paths([write(frame("ae").head(386), tmp_path / "short.csv")], db=db, user=people.DATA_MANAGER)[0]
    ae = frame("ae")
    full = pd.concat([ae, ae.tail(1).assign(AESEQ="99", AEDECOD="HEADACHE")])
    later = ingest_paths([write(full, tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert later.status == "loaded" and later.comparison.removed_records == 0
    hold = held_deliveries(db, STUDY).iloc[0]
    assert (hold["status"], hold["batch_id"]) == ("superseded", later.batch_id)
    with pytest.raises(IngestError, match="no longer pending: superseded"):
        people.confirm(db, held.hold_id, "too late")


def test_1h_tolerances_are_protocol_settings(tmp_path, monkeypatch):
    studies = tmp_path / "studies"
    studies.mkdir()
    toml = (Path(__file__).parents[1] / "data" / "studies" / "cdiscpilot01.toml").read_text()
    (studies / "pilot.toml").write_text(toml + "\n[delivery]\nmax_removed_records = 0.8\n"
                                        "max_removed_subjects = 200\nmax_removed_dlts = 20\n"
                                        "max_removed_saes = 40\nmax_removed_deaths = 3\n")  # 36 serious
    monkeypatch.setenv("SAFETY_STUDIES", str(studies))
    db = tmp_path / "tolerant.duckdb"
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    result = ingest_paths([write(frame("ae").head(386), tmp_path / "short.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert result.status == "loaded" and result.comparison.removed_records == 805


# --- 2. load order by content; rows that waited for DM; re-sent files ------------------------

def _new_subject_files(folder: Path, dm_name: str, ae_name: str) -> tuple[Path, Path]:
    """A DM with one new subject and an AE with her SAE (copies of the first pilot subject)."""
    dm, ae = frame("dm"), frame("ae")
    new_dm = dm.head(1).assign(USUBJID="01-701-9001", SUBJID="9001")
    new_ae = ae.head(1).assign(USUBJID="01-701-9001", AESER="Y", AEDECOD="SYNCOPE")
    return (write(pd.concat([dm, new_dm]), folder / dm_name),
            write(pd.concat([ae, new_ae]), folder / ae_name))


def new_subject_saes(db: Path) -> int:
    return sql(db, "SELECT count(*) FROM current_adverse_event WHERE usubjid = '01-701-9001' "
                   "AND serious")[0][0]


def test_2a_files_of_one_delivery_load_by_content_whatever_their_names(db, tmp_path):
    # "export_a" holds the AE and sorts first by name; the DM inside "export_b" must go first
    dm, ae = _new_subject_files(tmp_path, "export_b.csv", "export_a.csv")
    results = ingest_paths([ae, dm], db=db, user=people.DATA_MANAGER)
    assert [(r.file, r.domain, r.rows_quarantined) for r in results] == [
        ("export_b.csv", "DM", 0), ("export_a.csv", "AE", 0)]
    assert new_subject_saes(db) == 1


@pytest.mark.parametrize("first", ["DM", "AE"])
def test_2b_dm_2015_and_ae_2015_in_either_order_load_the_new_subjects_sae(db, tmp_path, first):
    dm, ae = _new_subject_files(tmp_path, "DM_2015.csv", "AE_2015.csv")
    for path in ([dm, ae] if first == "DM" else [ae, dm]):  # two deliveries, one after the other
        ingest_paths([path], db=db, user=people.DATA_MANAGER)
    assert new_subject_saes(db) == 1
    if first == "AE":  # the SAE waited in quarantine and was evaluated again when DM came
        (q,) = sql(db, "SELECT rule, reevaluated_in FROM quarantine")
        assert q[0] == "not_in_dm" and q[1] is not None
        ledger = queries_ledger(db)
        row = ledger[ledger["batch_id"] == q[1]].iloc[0]
        assert (row["delivery"], row["rows_in"], row["rows_loaded"], row["rows_carried"]) == (
            "reevaluation", 1, 1, 1191)


def queries_ledger(db: Path) -> pd.DataFrame:
    with store.read_connection(db) as con:
        return queries.ingest.batch_ledger(con, STUDY)


def test_2c_a_row_still_invalid_after_its_dm_stays_quarantined_with_its_history(db, tmp_path):
    dm, ae = frame("dm"), frame("ae")
    new_ae = ae.head(2).assign(USUBJID="01-701-9002", AESEQ=["1", "2"])
    new_ae.loc[new_ae.index[1], "AESTDTC"] = "not a date"
    ingest_paths([write(pd.concat([ae, new_ae]), tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)
    ingest_paths([write(pd.concat([dm, dm.head(1).assign(USUBJID="01-701-9002")]),
                        tmp_path / "dm.csv")], db=db, user=people.DATA_MANAGER)
    rows = sql(db, "SELECT quarantine_id, row_number, reevaluated_in, previous_id, reason "
                   "FROM quarantine ORDER BY quarantine_id")
    first, second, again = rows  # two waited for DM; one of them is still invalid
    assert (first[1], second[1]) == (1192, 1193) and first[2] == second[2] is not None
    assert again[1] == 1193 and again[3] == second[0] and again[2] is None
    assert "AESTDTC 'not a date' is not an ISO 8601 date" in again[4]
    assert sql(db, "SELECT count(*) FROM current_adverse_event WHERE usubjid = '01-701-9002'"
               ) == [(1,)]


def test_2d_a_re_sent_file_whose_rows_waited_for_dm_is_not_a_duplicate_of_nothing(db, tmp_path):
    dm, ae = _new_subject_files(tmp_path, "DM_2015.csv", "AE_2015.csv")
    ingest_paths([ae], db=db, user=people.DATA_MANAGER)
    # DM arrives through a process that stopped before evaluating the waiting rows again
    load_dataset(read_dataset(dm), db, None, people.DATA_MANAGER, dm.read_bytes)
    assert new_subject_saes(db) == 0
    again = ingest_file(ae, db, user=people.DATA_MANAGER)
    assert again.status == "loaded" and new_subject_saes(db) == 1


# --- 3. implausible dates never move the study -----------------------------------------------

def test_3_a_9999_date_never_changes_a_cohort_count_nor_the_cut_off(demo_db, tmp_path):
    from safety.demo import scenario
    from safety.demo.live import LiveFeed
    from safety.monitor.status import study_status

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    feed = LiveFeed()
    feed.advance()
    ae = feed.exports()["AE"]
    assert ingest_paths([write(ae, tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0].status == "loaded"

    def picture() -> tuple:
        with store.read_connection(db) as con:
            config = queries.studies.study_config_text(con, scenario.DEMO_STUDY_ID)
            cutoff = sql(db, "SELECT data_cutoff FROM study WHERE study_id = $s",
                         {"s": scenario.DEMO_STUDY_ID})[0][0]
            table = study_status(con, stored_study_config(config, scenario.DEMO_STUDY_ID),
                                 cutoff).cohort_table()
        return cutoff, table

    cutoff, before = picture()
    # the next export has one event more, dated 9999-12-31 (an EDC placeholder)
    extra = ae.tail(1).assign(AESEQ=str(ae["AESEQ"].astype(int).max() + 1),
                              AESTDTC="9999-12-31", AEENDTC="")
    result = ingest_paths([write(pd.concat([ae, extra]), tmp_path / "ae2.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert (result.status, result.rows_quarantined) == ("loaded", 1)
    after_cutoff, after = picture()
    assert after_cutoff == cutoff and str(cutoff) < "2100"
    pd.testing.assert_frame_equal(after, before)


def test_3b_the_cut_off_never_moves_past_the_latest_delivery(db, tmp_path):
    from datetime import timedelta

    tomorrow = (store.now() + timedelta(days=1)).date()  # plausible: within the 1-day tolerance
    ae = frame("ae")
    extra = ae.tail(1).assign(AESEQ="99", AESTDTC=tomorrow.isoformat(), AEENDTC="")
    assert ingest_paths([write(pd.concat([ae, extra]), tmp_path / "ae.csv")],
                        db=db, user=people.DATA_MANAGER)[0].rows_loaded == 1192
    assert sql(db, "SELECT data_cutoff FROM study") == [(store.now().date(),)]


# --- 7. DM that drops subjects; going back to an earlier cut ---------------------------------

def test_7a_a_dm_that_drops_a_subject_is_held_and_once_confirmed_drops_her_records(db, tmp_path):
    dm = frame("dm")
    held = ingest_paths([write(dm[dm["USUBJID"] != "01-718-1170"], tmp_path / "dm.csv")],
                        db=db, user=people.DATA_MANAGER)[0]
    assert held.status == "held" and held.comparison.removed_subjects == ("01-718-1170",)
    assert {d["usubjid"] for d in held.comparison.removed["dlts"]} == {"01-718-1170"}
    confirmed = people.confirm(db, held.hold_id, "duplicate subject")
    assert confirmed.status == "loaded"
    gone = "SELECT count(*) FROM current_{} WHERE usubjid = '01-718-1170'"
    assert [sql(db, gone.format(t))[0][0] for t in ("adverse_event", "exposure", "disposition",
                                                   "supp_qualifier")] == [0, 0, 0, 0]
    assert sql(db, "SELECT count(*) FROM adverse_event WHERE usubjid = '01-718-1170'")[0][0] > 0
    # retracting the DM brings her back, with her records in every domain
    retracted = people.retract(db, confirmed.batch_id, "not a duplicate after all")
    assert retracted.delivery == "retraction" and retracted.rows_carried == 306
    assert sql(db, gone.format("adverse_event"))[0][0] > 0
    assert {d["usubjid"] for d in retracted.comparison.removed["dlts"]} == set()


def test_7b_retract_restores_the_previous_cut_and_is_audited(db, tmp_path):
    ae = frame("ae")
    changed = ae.assign(AESEV=ae["AESEV"].where(ae.index != 0, "SEVERE"))
    loaded = ingest_paths([write(changed, tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert loaded.status == "loaded"
    result = people.retract(db, loaded.batch_id, "wrong severity coding")
    assert (result.rows_carried, result.superseded) == (1191, (loaded.batch_id,))
    assert sql(db, "SELECT severity FROM current_adverse_event WHERE usubjid = $u AND seq = $s",
               {"u": ae["USUBJID"][0], "s": int(ae["AESEQ"][0])}) == [(ae["AESEV"][0],)]
    ledger = queries_ledger(db).set_index("batch_id")
    assert ledger.loc[loaded.batch_id, "retracted_by"] == result.batch_id
    assert not ledger.loc[loaded.batch_id, "current"] and ledger.loc[result.batch_id, "current"]
    (detail,) = sql(db, "SELECT detail FROM audit_log WHERE action = 'delivery.retract'")[0]
    assert json.loads(detail)["retracts"] == loaded.batch_id
    with pytest.raises(IngestError, match="is not the current AE cut"):
        people.retract(db, loaded.batch_id, "twice")


def test_7c_dataset_json_with_a_byte_order_mark_loads(db, tmp_path):
    path = tmp_path / "ae.json"
    path.write_bytes(b"\xef\xbb\xbf" + (PILOT / "ae.json").read_bytes())
    result = ingest_paths([path], db=db, user=people.DATA_MANAGER)[0]
    assert (result.status, result.rows_loaded) == ("loaded", 1191)


def test_7d_lower_case_studyid_loads_into_the_study(db, tmp_path):
    ae = frame("ae").assign(STUDYID="cdiscpilot01")
    ae.loc[0, "AETERM"] = "changed verbatim"  # new content
    result = ingest_paths([write(ae, tmp_path / "ae.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert (result.status, result.study_id, result.rows_loaded) == ("loaded", STUDY, 1191)


# --- incremental deliveries --------------------------------------------------------------------

def test_incremental_delivery_adds_and_updates_by_key(tmp_path, monkeypatch):
    studies = tmp_path / "studies"
    studies.mkdir()
    toml = (Path(__file__).parents[1] / "data" / "studies" / "cdiscpilot01.toml").read_text()
    (studies / "pilot.toml").write_text(toml + '\n[delivery]\nincremental = ["AE"]\n')
    monkeypatch.setenv("SAFETY_STUDIES", str(studies))
    db = tmp_path / "incremental.duckdb"
    ingest_paths([PILOT / "dm.csv", PILOT / "ae.csv"], db=db, user=people.DATA_MANAGER)
    ae = frame("ae")
    update = ae.head(1).assign(AEOUT="RECOVERED/RESOLVED")  # same key: an update
    added = ae.head(1).assign(AESEQ="99", AEDECOD="HEADACHE")  # new key
    result = ingest_paths([write(pd.concat([update, added]), tmp_path / "ae_inc.csv")], db=db, user=people.DATA_MANAGER)[0]
    assert (result.status, result.delivery, result.rows_loaded, result.rows_carried) == (
        "loaded", "incremental", 2, 1190)
    assert current_ae_rows(db) == 1192
    with store.read_connection(db) as con:
        changes = queries.ingest.cut_changes(con, STUDY, "AE")
    assert sorted(changes["change"]) == ["added", "changed"]


# --- the command ---------------------------------------------------------------------------------

def test_cli_held_json_confirm_and_retract(db, tmp_path):
    short = write(frame("ae").head(386), tmp_path / "ae.csv")
    run = CliRunner().invoke(ingest_command, [str(short), "--db", str(db), "--json"])
    assert run.exit_code == 2, run.output
    (batch,) = json.loads(run.stdout)["batches"]
    assert batch["status"] == "held" and batch["comparison"]["removed_records"] == 805
    assert {s["pt"] for s in batch["comparison"]["removed"]["saes"]} == set(
        serious(frame("ae").iloc[386:])["AEDECOD"]) >= {
        "SYNCOPE", "PARTIAL SEIZURES WITH SECONDARY GENERALISATION"}
    assert len(run.stderr.strip().splitlines()) == 1 and "held pending confirmation" in run.stderr
    listed = CliRunner().invoke(ingest_command, ["--held", "--db", str(db), "--json"])
    assert json.loads(listed.stdout)["holds"][0]["hold_id"] == batch["hold_id"]
    no_reason = CliRunner().invoke(ingest_command, ["--confirm", str(batch["hold_id"]),
                                                    "--db", str(db)])
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.stderr
    confirmed = CliRunner().invoke(ingest_command, [
        "--confirm", str(batch["hold_id"]), "--reason", "checked with the site", "--db", str(db),
        "--json"], input=f"{people.SIGNATURE_PASSWORD}\n")  # the OS account's (data/access.toml)
    assert confirmed.exit_code == 0, confirmed.output
    new_batch = json.loads(confirmed.stdout)["batches"][0]["batch_id"]
    retracted = CliRunner().invoke(ingest_command, [
        "--retract", str(new_batch), "--reason", "the site was wrong", "--db", str(db)],
        input=f"{people.SIGNATURE_PASSWORD}\n")
    assert retracted.exit_code == 0, retracted.output
    assert "retracted" in retracted.stdout and current_ae_rows(db) == 1191
