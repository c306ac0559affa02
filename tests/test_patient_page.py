"""The patient profile page under AppTest: deep link, picker, previous / next, adjudication and
review written to the database with their audit entries, and the Overview updating."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import people
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from safety.demo import generator as demo

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")
HIGH_DLT = "NCT04232592-01-026"  # HIGH #4: pelvic inflammatory disease, grade 3, day 6 (a DLT)


def _open(db: Path, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=60))
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/patient.py").run()
    assert not at.exception, at.exception
    return at


def _param(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def _rows(db: Path, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture(autouse=True)
def _through_the_entry_point(monkeypatch):
    """Every AppTest run goes through dashboard.py, as in the browser.

    AppTest resets ``PagesManager.uses_pages_directory`` before each run, and with a pages/
    folder Streamlit then runs a switched-to page alone (multipage v1) until st.navigation is
    called; ``sidebar.selection`` recovers with a rerun, but a rerun drops a form's submit click.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _frame(at: AppTest, *columns: str):
    """The first dataframe on the page that has all these columns."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no dataframe with columns {columns}")


@pytest.fixture
def fresh_db(fresh_demo) -> Path:
    """A demo database of its own, for tests that write."""
    return fresh_demo


def test_1_deep_link_opens_that_patient(demo_db, monkeypatch):
    at = _open(demo_db, monkeypatch, subject=HIGH_DLT)
    assert at.title[0].value == "Patient"
    assert at.subheader[0].value == HIGH_DLT
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cohort"] == "High dose"
    assert metrics["First dose"] == "2020-12-20"
    assert metrics["DLT window"] == "DLT"
    assert metrics["Status at cut-off"] == "on study"
    # the study followed from the subject; both stay in the address bar
    assert _param(at, "study") == "NCT04232592"
    assert _param(at, "subject") == HIGH_DLT
    assert at.selectbox(key="patient_picker").value == HIGH_DLT
    assert len(at.get("plotly_chart")) == 1  # the timeline: the other charts are in their tabs
    timeline = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in timeline["data"]}
    assert {"Grade 3", "Dose", "DLT candidate (not adjudicated)"} <= names
    narrative = at.markdown[
        [m.value for m in at.markdown].index(
            next(m.value for m in at.markdown if m.value.startswith("Patient NCT04232592-01-026"))
        )
    ].value
    assert "Pelvic inflammatory disease" in narrative and "study day 6" in narrative


def test_1b_only_the_open_chart_and_listing_are_built_and_the_tabs_are_kept(
        demo_db, monkeypatch):
    at = _open(demo_db, monkeypatch, subject=HIGH_DLT)
    assert [t.label for t in at.tabs] == ["Timeline", "Key labs", "Vital signs",
                                          "Adverse events", "Labs", "Exposure", "Vital signs"]
    shown = [set(d.value.columns) for d in at.dataframe]
    assert not any("Test code" in c for c in shown)  # the labs listing waits in its tab
    at.session_state["patient_chart"] = "Key labs"
    at.run()
    (labs,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    panels = [a["text"] for a in labs["layout"]["annotations"]]
    assert panels[0].startswith("ALT") and any(p.startswith("PLAT") for p in panels)
    at.session_state["patient_chart"] = "Vital signs"
    at.session_state["patient_listing"] = "Labs"
    at.run()
    (vitals,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert {a["text"].split(" ")[0] for a in vitals["layout"]["annotations"]} >= {"TEMP", "PULSE"}
    listing = _frame(at, "Test code")  # the labs listing, headers in words
    assert (listing["Test code"] == "ALT").any()
    # the next patient opens on the same tabs (the browser test sees them in the link)
    at.button(key="next_patient").click().run()
    assert at.subheader[0].value == "NCT04232592-01-030"
    (vitals,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert vitals["layout"]["title"]["text"] != labs["layout"]["title"]["text"]
    assert not at.exception


def test_2_a_subject_of_another_study_switches_the_study(tmp_path, monkeypatch):
    db = tmp_path / "two.duckdb"
    demo.build_demo(db, studies=2)
    other = _rows(db, "SELECT min(usubjid) FROM subject WHERE study_id = 'NCT04232592-S002'")[0][0]
    at = _open(db, monkeypatch, study="NCT04232592", subject=other)
    assert at.subheader[0].value == other
    assert at.sidebar.selectbox(key="study_picker").value == "NCT04232592-S002"
    assert _param(at, "study") == "NCT04232592-S002"


def test_3_unknown_subject_warns_and_shows_the_first_patient(demo_db, monkeypatch):
    at = _open(demo_db, monkeypatch, subject="NO-SUCH-SUBJECT")
    assert any("NO-SUCH-SUBJECT" in w.value for w in at.warning)
    assert at.subheader[0].value == _param(at, "subject")


def test_4_previous_and_next_stay_within_the_cohort(demo_db, monkeypatch):
    # HIGH in order of first dose: 024, 025, 027, 026, 030, 029, then 031 and 032 not dosed
    at = _open(demo_db, monkeypatch, subject=HIGH_DLT)
    at.button(key="next_patient").click().run()
    assert at.subheader[0].value == "NCT04232592-01-030"
    assert _param(at, "subject") == "NCT04232592-01-030"
    at.button(key="previous_patient").click().run()
    at.button(key="previous_patient").click().run()
    assert at.subheader[0].value == "NCT04232592-01-027"
    # the first of the cohort has no previous patient; the last has no next one
    at.selectbox(key="patient_picker").select("NCT04232592-01-024").run()
    assert _param(at, "subject") == "NCT04232592-01-024"
    assert at.button(key="previous_patient").disabled
    at.selectbox(key="patient_picker").select("NCT04232592-01-032").run()
    assert at.button(key="next_patient").disabled
    assert not at.exception


def _adjudication_form(at: AppTest, usubjid: str, seq: int) -> tuple:
    key = f"adjudicate_{usubjid}_adverse_event_{seq}"
    submit = next(b for b in at.button
                  if b.label == "Sign and record adjudication" and key in b.form_id)  # fmt: skip
    return (at.radio(key=f"{key}_decision"), at.text_area(key=f"{key}_reason"),
            at.text_input(key=f"{key}_password"), submit)  # fmt: skip


def test_5_adjudication_round_trip_to_the_audit_log_and_the_overview(fresh_db, monkeypatch):
    at = _open(fresh_db, monkeypatch)
    at.switch_page("pages/overview.py").run()
    dlts_before = int({m.label: m.value for m in at.metric}["Subjects with DLT"])

    # MED's DLT patient: one AE-based DLT, nothing else
    events = _rows(
        fresh_db,
        "SELECT s.usubjid, min(a.seq), count(*) FROM adverse_event a JOIN subject s "
        "USING (study_id, usubjid) WHERE s.cohort_id = 'MED' AND a.serious AND a.related "
        "GROUP BY ALL",
    )
    assert len(events) == 1 and events[0][2] == 1
    usubjid, seq, _ = events[0]
    at.query_params["subject"] = usubjid
    at.switch_page("pages/patient.py").run()
    assert at.subheader[0].value == usubjid
    assert {m.label: m.value for m in at.metric}["DLT window"] == "DLT"
    why = "Infection after a later procedure, unrelated to the cells"

    def reject(reason_text: str, password_text: str) -> None:
        decision, reason, password, submit = _adjudication_form(at, usubjid, seq)
        decision.set_value("rejected")
        reason.input(reason_text)
        password.input(password_text)
        submit.click().run()

    reject("", "")  # no reason: refused, nothing written
    assert any("reason" in e.value for e in at.error)
    assert _rows(fresh_db, "SELECT count(*) FROM audit_log WHERE action LIKE 'dlt.%'")[0][0] == 0
    reject(why, "not-the-password")  # a wrong signature password: no signature, nothing written
    assert any("signature password" in e.value for e in at.error)
    assert _rows(fresh_db, "SELECT count(*) FROM dlt_adjudication")[0][0] == 0
    reject(why, people.SIGNATURE_PASSWORD)
    assert not at.exception, at.exception

    audit = _rows(
        fresh_db,
        "SELECT actor, action, usubjid, detail FROM audit_log WHERE action LIKE 'dlt.%'",
    )
    assert len(audit) == 1
    actor, action, usubjid, detail = audit[0]
    assert (actor, action, usubjid) == ("sam", "dlt.reject", events[0][0])
    detail = json.loads(detail)
    assert detail["reason"] == "Infection after a later procedure, unrelated to the cells"
    assert detail["source_seq"] == seq and detail["previous_status"] == "candidate"
    assert detail["signature"]["meaning"] == "I confirm this event is not a DLT"
    # the page shows the new state and the history
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["DLT window"] != "DLT"
    history = _frame(at, "who", "action")
    assert history["action"].tolist() == ["dlt.reject"]
    assert history["who"].tolist() == ["sam"]
    assert any("Recorded" in s.value and "I confirm this event is not a DLT" in s.value
               for s in at.success)  # fmt: skip
    shown = _frame(at, "Term", "Signature")  # the signature shown with the act (in words)
    assert shown["Signature"].str.contains("Sam Safety .sam.*not a DLT", regex=True).any()
    # and the escalation decision counts one DLT fewer
    at.switch_page("pages/overview.py").run()
    assert int({m.label: m.value for m in at.metric}["Subjects with DLT"]) == dlts_before - 1


def test_6_a_dlt_added_by_hand_is_audited_and_counted(fresh_db, monkeypatch):
    usubjid = "NCT04232592-01-025"  # HIGH #2: ALT grade 2, no DLT
    at = _open(fresh_db, monkeypatch, subject=usubjid)
    assert {m.label: m.value for m in at.metric}["DLT window"] == "evaluable"
    at.text_input(key=f"add_dlt_description_{usubjid}").input("Grade 3 ALT increase (investigator)")
    at.text_area(key=f"add_dlt_reason_{usubjid}").input("Hepatotoxicity judged dose-limiting")
    at.text_input(key=f"add_dlt_password_{usubjid}").input(people.SIGNATURE_PASSWORD)
    next(b for b in at.button if b.label == "Sign and add DLT").click().run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["DLT window"] == "DLT"
    rows = _rows(
        fresh_db,
        "SELECT decision, source, description, decided_by FROM dlt_adjudication WHERE usubjid = ?",
        usubjid,
    )
    assert rows == [("added", "manual", "Grade 3 ALT increase (investigator)", "sam")]
    assert _rows(fresh_db, "SELECT action FROM audit_log WHERE usubjid = ?", usubjid) == [
        ("dlt.add",)
    ]


def test_7_review_status_and_note_round_trip(fresh_db, monkeypatch):
    at = _open(fresh_db, monkeypatch, subject=HIGH_DLT)
    at.radio(key=f"review_status_{HIGH_DLT}").set_value("needs follow-up")
    at.text_area(key=f"review_note_{HIGH_DLT}").input("Ask the site for the discharge letter")
    next(b for b in at.button if b.label == "Save review").click().run()
    assert not at.exception, at.exception
    rows = _rows(
        fresh_db,
        "SELECT status, note, reviewed_by FROM subject_review WHERE usubjid = ?",
        HIGH_DLT,
    )
    assert rows == [("needs follow-up", "Ask the site for the discharge letter", "sam")]
    assert _rows(fresh_db, "SELECT action, actor FROM audit_log WHERE usubjid = ?", HIGH_DLT) == [
        ("review.record", "sam")
    ]
    # shown on the page, in the picker's label and in the history
    assert any("needs follow-up" in m.value and "sam" in m.value for m in at.markdown)
    assert at.radio(key=f"review_status_{HIGH_DLT}").value == "needs follow-up"
    assert "needs follow-up" in at.selectbox(key="patient_picker").format_func(HIGH_DLT)
    assert _frame(at, "who", "action")["action"].tolist() == ["review.record"]


def test_8_listings_have_csv_downloads(demo_db, monkeypatch):
    at = _open(demo_db, monkeypatch, subject=HIGH_DLT)
    ae = _frame(at, "Preferred term", "System organ class", "Verbatim term")  # in words
    n = _rows(
        demo_db,
        "SELECT count(*) FROM adverse_event WHERE usubjid = ? AND start_date <= DATE '2021-01-15'",
        HIGH_DLT,
    )[0][0]
    assert len(ae) == n
    keys = set()
    for shown in people.every_tab(at):  # each listing is built in its open tab
        keys |= {b.key for b in shown.get("download_button")}
    listings = ("adverse_events", "labs", "exposure", "vital_signs")
    assert {f"dl_{kind}_{slug}" for kind in ("csv", "xlsx") for slug in listings} <= keys
    assert {"download_narrative", "dl_png_timeline", "dl_png_labs", "dl_png_vitals"} <= keys
