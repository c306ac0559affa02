"""DSMB reports: reproducible hashes, the frozen cut, open vs closed, the PDF read back, the
numbers of the pages, the manifest and the command line."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta

import openpyxl
import pandas as pd
import people
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from safety import store
from safety.cli import cli
from safety.clinical import labs, teae
from safety.demo import generator as demo
from safety.demo.scenario import DEMO_CUTOFF
from safety.monitor import adverse_events
from safety.monitor.status import study_status
from safety.report import build_content, generate_report, manifest
from safety.report.tables import ALL_COHORTS, lab_worst_grade_table
from safety.store import audit, queries

STUDY = "NCT04232592"
SO = people.SAFETY_OFFICER  # builds every report here
EARLY = date(2020, 6, 30)  # before the High dose cohort opened (its first dose: November 2020)
COHORT_LABELS = ("Control (vehicle)", "Low dose", "Medium dose", "High dose")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A demo database of its own: reports write snapshots, tests add late data, and no other
    test's adjudication or snapshot can move the freeze point."""
    path = tmp_path_factory.mktemp("report") / "safety.duckdb"
    demo.build_demo(path)
    return path


@pytest.fixture(scope="module")
def closed(db, tmp_path_factory):
    """The closed report at the demo's cut-off, made first (it sets the freeze point)."""
    return generate_report(STUDY, DEMO_CUTOFF, tmp_path_factory.mktemp("closed"), "closed", db=db, user=SO)


@pytest.fixture(scope="module")
def open_report(db, closed, tmp_path_factory):
    return generate_report(STUDY, DEMO_CUTOFF, tmp_path_factory.mktemp("open"), "open", db=db, user=SO)


def _files(result) -> dict[str, str]:
    return {f["path"]: f["sha256"] for f in result.manifest["files"]}


# --- reproducibility ---------------------------------------------------------------------------


def test_same_data_give_the_same_files_and_hashes(db, closed, tmp_path):
    again = generate_report(STUDY, DEMO_CUTOFF, tmp_path, "closed", db=db, user=SO)
    assert again.snapshot_id != closed.snapshot_id  # a new snapshot row ...
    assert again.content_sha256 == closed.content_sha256  # ... of the same content
    assert _files(again) == _files(closed)  # every file, PDF, XLSX, PNG and HTML included
    first = (closed.folder / manifest.MANIFEST_NAME).read_bytes()
    assert (tmp_path / manifest.MANIFEST_NAME).read_bytes() == first


def test_manifest_lists_every_file_with_its_sha256(closed):
    m = closed.manifest
    on_disk = sorted(
        p.relative_to(closed.folder).as_posix()
        for p in closed.folder.rglob("*")
        if p.is_file() and p.name != manifest.MANIFEST_NAME
    )
    assert [f["path"] for f in m["files"]] == on_disk
    assert m["cutoff"] == DEMO_CUTOFF.isoformat()
    assert m["software"]["safety"]
    assert len(m["content_sha256"]) == 64 and len(m["config_sha256"]) == 64
    assert manifest.verify(closed.folder) == []


def test_the_manifest_carries_the_audit_head_of_its_freeze(db, closed):
    freeze = closed.manifest["freeze"]
    with store.read_connection(db) as con:
        entries = {r[0]: r[8] for r in queries.database.audit_trail(con)}
        assert audit.verify_audit_trail(con).ok
    # the trail's head when the data were frozen: entry and hash as the chain holds them
    assert entries[freeze["audit_id"]] == freeze["audit_sha256"]
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db), "--manifest",
                                      str(closed.folder / manifest.MANIFEST_NAME)])  # fmt: skip
    assert result.exit_code == 0, result.output
    # the folder is its owner's only (a DSMB's closed results)
    assert closed.folder.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in closed.folder.rglob("*") if p.is_file()} == {0o600}


def test_a_changed_file_fails_verification(closed, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(closed.folder, copy)
    with open(copy / "tables" / "ae_summary.csv", "a", encoding="utf-8") as handle:
        handle.write("tampered\n")
    assert manifest.verify(copy) == ["tables/ae_summary.csv: sha256 differs"]


def test_the_snapshot_row_records_the_report(db, closed):
    with store.read_connection(db) as con:
        snapshots = queries.snapshot.study_snapshots(con, STUDY)
        stored = queries.snapshot.first_snapshot_manifest(con, STUDY, DEMO_CUTOFF)
    row = snapshots.set_index("snapshot_id").loc[closed.snapshot_id]
    assert row["content_sha256"] == closed.content_sha256
    assert row["kind"] == "closed"
    assert json.loads(stored)["freeze"] == closed.manifest["freeze"]


# --- the cut-off and the freeze ------------------------------------------------------------------


def _add_ae(con, batch_id: int, seq: int, pt: str, onset: date) -> None:
    queries.database.insert_frame(
        con,
        "adverse_event",
        pd.DataFrame(
            {
                "study_id": [STUDY], "usubjid": [f"{STUDY}-01-024"], "seq": [seq],
                "verbatim": [pt], "pt": [pt], "soc": ["General disorders and administration "
                                                      "site conditions"],
                "start_dtc": [onset.isoformat()], "start_date": [onset], "grade": [2],
                "serious": [False], "related": [False], "batch_id": [batch_id],
            }  # fmt: skip
        ),
    )


def _pts(result) -> set[str]:
    return set(result.content.table("ae_pt").frame["Preferred term"])


def test_data_arriving_after_the_cut_do_not_change_its_report(db, closed, tmp_path):
    db = shutil.copy(db, tmp_path / "late.duckdb")  # holds the first report's freeze point
    with store.write_connection(db) as con:
        ae_batch = int(
            queries.ingest.batch_ledger(con, STUDY).query("domain == 'AE'")["batch_id"].max()
        )
        # 1. an AE dated after the cut-off, in the delivery the report already froze
        _add_ae(con, ae_batch, 901, "Event after the cut-off", DEMO_CUTOFF + timedelta(days=3))
        # 2. a late EDC entry: dated before the cut-off, delivered in a new batch
        late = queries.database.next_batch_id(con)
        queries.database.insert_frame(
            con,
            "ingest_batch",
            pd.DataFrame(
                {
                    "batch_id": [late], "study_id": [STUDY], "file_name": ["late.csv"],
                    "sha256": ["0" * 64], "domain": ["AE"], "rows_in": [1], "rows_loaded": [1],
                    "rows_quarantined": [0], "status": ["loaded"], "loaded_by": ["test"],
                    "loaded_at": [datetime(2021, 2, 20, 9, 0)],
                }  # fmt: skip
            ),
        )
        _add_ae(con, late, 902, "Late entry before the cut-off", date(2020, 12, 20))

    again = generate_report(STUDY, DEMO_CUTOFF, tmp_path / "again", "closed", db=db, user=SO)
    assert again.content_sha256 == closed.content_sha256
    assert _files(again) == _files(closed)

    # A re-frozen cut of the same day takes the late entry, never the event after the cut-off.
    fresh = generate_report(STUDY, DEMO_CUTOFF, tmp_path / "fresh", "closed", db=db,
                            refreeze=True, user=SO)  # fmt: skip
    assert fresh.content_sha256 != closed.content_sha256
    assert "Late entry before the cut-off" in _pts(fresh)
    assert "Event after the cut-off" not in _pts(fresh)
    assert fresh.manifest["freeze"]["batch_id"] == late


def test_an_earlier_cut_leaves_out_later_events(db, closed, tmp_path):
    early = generate_report(STUDY, EARLY, tmp_path, "closed", db=db, user=SO)
    saes = early.content.table("sae_listing").frame
    assert (pd.to_datetime(saes["Onset"]) <= pd.Timestamp(EARLY)).all()
    late_saes = closed.content.table("sae_listing").frame
    later = late_saes[pd.to_datetime(late_saes["Onset"]) > pd.Timestamp(EARLY)]
    assert len(later) > 0  # the demo's High dose SAEs come after the early cut ...
    assert not set(later["Subject"]) & set(saes["Subject"])  # ... and are not in it
    enrol = early.content.table("enrolment").frame.set_index("Cohort")
    assert enrol.loc["High dose", "Treated"] == 0


# --- open and closed ---------------------------------------------------------------------------


def test_the_open_report_has_no_by_cohort_safety_data(open_report):
    content = open_report.content
    assert not [t.key for t in content.tables if t.by_cohort or t.listing]
    assert not [f.key for f in content.figures if f.by_cohort]
    assert content.recommendation is None
    for table in content.tables:
        text = table.frame.to_csv(index=False)
        for label in COHORT_LABELS:
            assert label not in text, f"{table.key} names the cohort {label!r}"
    keys = {t.key for t in content.tables}
    assert {"sae_listing", "dlt_listing", "escalation", "stopping_rules", "hys_law"}.isdisjoint(
        keys
    )
    assert not (open_report.folder / "tables" / "sae_listing.csv").exists()
    # pooled: the open AE summary's one column is the sum over the closed report's cohorts
    summary = content.table("ae_summary").frame
    assert list(summary.columns) == ["Subjects with", f"{ALL_COHORTS} (N=30)"]


def test_the_closed_report_has_everything_by_cohort(closed):
    keys = [t.key for t in closed.content.tables]
    for key in ("enrolment", "exposure", "ae_summary", "ae_soc", "ae_pt", "sae_listing",
                "dlt_listing", "lab_worst_grade", "edish_quadrants", "escalation",
                "stopping_rules"):  # fmt: skip
        assert key in keys
    assert list(closed.content.table("enrolment").frame["Cohort"]) == list(COHORT_LABELS)


# --- the files read back -------------------------------------------------------------------------


def test_the_closed_pdf_opens_with_its_sections(closed):
    reader = PdfReader(closed.file(".pdf"))
    text = "\n".join(page.extract_text() for page in reader.pages)
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    assert outline == ["About this report", "Enrolment and exposure", "Adverse events",
                       "Listings", "Laboratory", "Dose escalation"]  # fmt: skip
    for phrase in ("CLOSED REPORT", "Contents", STUDY, "15 January 2021",
                   "Listing: serious TEAEs", "Listing: DLT candidates", "eDISH",
                   "Escalation decision per cohort", closed.content_sha256):  # fmt: skip
        assert phrase in text, phrase
    assert len(reader.pages) >= 10
    assert reader.metadata.creation_date.year == 2021  # the data's freeze time, not today


def test_the_open_pdf_has_no_listings_or_escalation(open_report):
    reader = PdfReader(open_report.file(".pdf"))
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    assert outline == ["About this report", "Enrolment and exposure", "Adverse events",
                       "Laboratory"]  # fmt: skip
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "OPEN REPORT" in text and "Listing:" not in text


def test_xlsx_has_a_sheet_a_table_with_the_csv_values(closed):
    book = openpyxl.load_workbook(closed.file(".xlsx"), read_only=True)
    assert book.sheetnames == ["Report", *[t.key for t in closed.content.tables]]
    sheet = pd.read_excel(closed.file(".xlsx"), sheet_name="ae_summary", skiprows=1)
    csv = pd.read_csv(closed.folder / "tables" / "ae_summary.csv")
    pd.testing.assert_frame_equal(sheet, csv)


def test_html_is_self_contained(closed):
    page = closed.file(".html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(closed.content.figures)
    assert "<script" not in page and "http://" not in page and "https://" not in page


# --- the numbers are the pages' numbers ----------------------------------------------------------


def test_report_numbers_equal_the_pages_numbers(db, closed):
    with store.read_connection(db) as con:
        config = queries.studies.study_config_text(con, STUDY)
        from safety.config import parse_study_config

        config = parse_study_config(config)
        status = study_status(con, config, DEMO_CUTOFF)  # the Overview and `status`
        summary = teae.summary_table(adverse_events.ae_summary(con, config, DEMO_CUTOFF))  # AE page
        codes = queries.labs.lab_tests(con, STUDY, DEMO_CUTOFF)["test_code"].tolist()
        grades = queries.labs.lab_subject_grades(con, STUDY, DEMO_CUTOFF, codes)  # Labs page
        peaks = queries.labs.lab_liver_peaks(con, STUDY, DEMO_CUTOFF)
    content = closed.content
    escalation = content.table("escalation").frame
    assert escalation["At this dose the design would say"].tolist() == [
        c.decision_label for c in status.cohorts]
    assert escalation["Reason"].tolist() == [c.reason for c in status.cohorts]
    assert escalation["With DLT"].tolist() == [c.dlts for c in status.cohorts]
    enrol = content.table("enrolment").frame
    assert enrol["Treated"].sum() == status.totals["treated"]
    pd.testing.assert_frame_equal(
        content.table("ae_summary").frame, summary.drop(columns="category")
    )
    pd.testing.assert_frame_equal(
        content.table("lab_worst_grade").frame.reset_index(drop=True),
        lab_worst_grade_table(grades).reset_index(drop=True),
    )
    quadrants = labs.edish_quadrant_counts(labs.derive_edish(peaks))
    assert content.table("edish_quadrants").frame["Total"].tolist() == quadrants["Total"].tolist()


def test_build_content_without_files_matches_the_report(db, closed):
    content, _, point = build_content(db, STUDY, DEMO_CUTOFF, "closed", user=SO)
    assert point.reused_from_first_report
    pd.testing.assert_frame_equal(
        content.table("ae_pt").frame, closed.content.table("ae_pt").frame
    )


# --- the command line ----------------------------------------------------------------------------


def test_report_command_writes_the_folder(db, closed, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        cli, ["report", "--db", str(db), "--study", STUDY, "--cutoff", str(DEMO_CUTOFF),
              "--out", str(out), "--closed", "--json"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["content_sha256"] == closed.content_sha256
    assert (out / "manifest.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cutoff", "15/01/2021"], "15/01/2021"),  # not YYYY-MM-DD
        (["--cutoff", "2021-01-15", "--study", "NOPE"], "no study 'NOPE'"),
        (["--cutoff", (date.today() + timedelta(days=2)).isoformat()], "after today"),
    ],
)
def test_report_command_refuses_bad_input_with_exit_2(db, tmp_path, args, message):
    base = ["report", "--db", str(db), "--out", str(tmp_path / "x")]
    if "--study" not in args:
        base += ["--study", STUDY]
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_status_as_of_is_the_cutoff(db):
    runner = CliRunner()
    as_of = runner.invoke(cli, ["status", "--db", str(db), "--as-of", "2020-06-30", "--json"])
    cutoff = runner.invoke(cli, ["status", "--db", str(db), "--cutoff", "2020-06-30", "--json"])
    assert as_of.exit_code == 0, as_of.output
    assert as_of.output == cutoff.output
    (study,) = json.loads(as_of.output)["studies"]
    assert study["cutoff"] == "2020-06-30"
    high = [c for c in study["cohorts"] if c["label"] == "High dose"][0]
    assert high["treated"] == 0
