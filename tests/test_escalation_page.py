"""The Dose escalation page under AppTest: it renders, marks the current decision-table cell,
and records adjudications only with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import people
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from safety import store
from safety.escalation import cohorts_from_patients
from safety.monitor import decisions
from safety.monitor import escalation_review as review
from safety.store import queries

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")
PAGE = "pages/escalation.py"


def _open(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SAFETY_DB", str(db))
    at = people.signed_in(AppTest.from_file(APP, default_timeout=120)).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(autouse=True)
def _through_the_entry_point(monkeypatch):
    """Every AppTest run goes through dashboard.py (see tests/test_patient_page.py: without
    this, ``sidebar.selection`` reruns once and the rerun drops a form's submit click)."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def page(demo_db, monkeypatch) -> AppTest:
    return _open(demo_db, monkeypatch)


@pytest.fixture
def writable(fresh_demo, monkeypatch) -> tuple[AppTest, Path]:
    return _open(fresh_demo, monkeypatch), fresh_demo


def test_1_page_shows_every_dose_cohort_with_decision_and_pending_clock(page):
    assert page.title[0].value == "Dose escalation"
    cohorts = _frame(page, "Cohort", "Treated", "Pending")
    assert cohorts["Cohort"].tolist() == ["Low dose", "Medium dose", "High dose"]
    high = cohorts.set_index("Cohort").loc["High dose"]
    assert (high["Treated"], high["Evaluable"], high["Pending"]) == (6, 4, 2)
    assert high["Decision"] == "pending"  # 4 of 8 evaluable: BOIN decides on the cohort
    assert high["Evaluable on"] == "27 Jan 2021"  # the last HIGH window closes
    assert cohorts.set_index("Cohort").loc["Low dose", "Evaluable on"] == "now"
    # each cohort's card carries its reason, labelled as what BOIN would say at that dose
    captions = [people.plain(c.value) for c in page.caption]
    assert any(c.startswith("pending: 4 of 8 evaluable at this dose") for c in captions)
    assert any(c.startswith("What BOIN would say at this dose: 1 DLT in 8 at dose level 2")
               for c in captions)
    # the study's decision says "pending" once, then what it waits for
    nxt = [people.plain(i.value) for i in page.info if "Next patients" in i.value]
    assert nxt and nxt[0].startswith("**Next patients: pending (dose level 3).** 4 of 8 evaluable"), nxt
    clock = _frame(page, "days_left", "patient")
    assert len(clock) == 2 and clock["days_left"].between(1, 27).all()
    assert all("subject=NCT04232592-01-" in link for link in clock["patient"])
    # the DLT clock; the decision history on demand
    assert len(page.get("plotly_chart")) == 1
    page.toggle(key="history_shown").set_value(True).run()
    assert len(page.get("plotly_chart")) == 2
    assert any("illustrative" in w.value for w in page.warning)


def test_only_the_open_design_view_is_built_and_drawn(page):
    assert people.lazy_tabs(page)["design_view"] == ["Decision table", "Estimates and designs",
                                                      "Dose paths"]
    # the decision table by default; neither the estimates nor the dose paths are read
    assert any(set(d.value.columns) >= {"0 DLT", "1 DLT"} for d in page.dataframe)
    assert not any("Design" in d.value.columns for d in page.dataframe)
    assert not any({"step", "path"} <= set(d.value.columns) for d in page.dataframe)
    page.session_state["design_view"] = "Estimates and designs"
    page.run()
    assert not page.exception, page.exception
    assert not any(set(d.value.columns) >= {"0 DLT", "1 DLT"} for d in page.dataframe)
    assert _frame(page, "Design", "Decision")["Design"].tolist() == ["3+3", "BOIN", "mTPI-2",
                                                                      "CRM"]
    assert len(page.get("plotly_chart")) == 2  # the DLT clock and the estimates
    page.session_state["design_view"] = "Dose paths"
    page.run()
    assert _frame(page, "step", "path", "reason")["path"].iloc[0] == "now"
    assert not any("Design" in d.value.columns for d in page.dataframe)
    assert len(page.get("plotly_chart")) == 2  # the DLT clock and the dose paths


def test_2_decision_table_marks_the_current_cell(page):
    # BOIN target 0.25, 2 DLTs in 4 evaluable at dose level 3: D (de-escalate);
    # Liu & Yuan (2015): de-escalate when 2/4 = 0.50 > lambda_d 0.2984
    table = _frame(page, "0 DLT", "1 DLT")
    marked = [
        (n, col)
        for n in table.index
        for col in table.columns
        if str(table.loc[n, col]).startswith("▶")
    ]
    assert marked == [(4, "2 DLT")]
    assert table.loc[4, "2 DLT"] == "▶ D"
    assert table.loc[3, "0 DLT"] == "E" and table.loc[3, "3 DLT"] == "DU"
    assert any(
        "marks the current cell" in c.value and "dose level 3" in c.value for c in page.caption
    )


def test_3_mtpi2_table_and_the_designs_side_by_side(page):
    page.radio(key="table_design").set_value("mTPI-2").run()
    assert not page.exception, page.exception
    assert _frame(page, "0 DLT", "1 DLT").loc[4, "2 DLT"] == "▶ D"
    page.session_state["design_view"] = "Estimates and designs"
    page.run()
    comparison = _frame(page, "Design", "Decision").set_index("Design")
    assert comparison.index.tolist() == ["3+3", "BOIN", "mTPI-2", "CRM"]
    assert comparison.loc["BOIN", "Decision"] == "de-escalate"
    assert "getprior" in comparison.loc["CRM", "Note"]  # the demo protocol has no skeleton


def test_dose_paths_continue_from_the_design_and_rules_that_decided_now(page):
    # The page takes the design (with its rules, pending patients and hard stops) from the
    # study's status; the same tree must come from reading the cut-off's inputs afresh.
    page.session_state["design_view"] = "Dose paths"
    page.run()
    sel = page.session_state["selection"]
    with store.read_connection(sel.db) as con:
        _, history, design = decisions.escalation_inputs(con, sel.config, sel.cutoff)
    size = page.number_input(key="path_cohort_size").value
    fresh = review.dose_path_frame(design, cohorts_from_patients(history), size, 2)
    shown = _frame(page, "step", "path", "reason")
    assert len(shown) == len(fresh) > 1
    assert shown["path"].tolist() == fresh["path"].tolist()
    assert shown["reason"].tolist() == fresh["reason"].tolist()


def test_4_an_empty_reason_is_refused_with_a_message(writable):
    at, db = writable
    at.text_area(key="adj_reason").set_value("   ")
    at.button(key="adj_submit").click().run()
    assert not at.exception, at.exception
    assert any("reason: it is required" in e.value for e in at.error)
    with store.read_connection(db) as con:
        assert queries.dlt.adjudications(con, "NCT04232592").empty


def test_5_with_a_reason_the_rejection_is_written_and_audited(writable):
    at, db = writable
    events = at.selectbox(key="adj_event")
    med = next(o for o in events.options if "Endometritis" in o)  # options show the labels
    events.set_value(_option(at, med))
    at.radio(key="adj_decision").set_value("rejected")
    at.text_area(key="adj_reason").set_value("Endometritis present before the injection")
    at.text_input(key="adj_password").set_value(people.SIGNATURE_PASSWORD)
    at.button(key="adj_submit").click().run()
    assert not at.exception, at.exception
    assert not at.error
    assert any("Recorded" in s.value for s in at.success)
    cohorts = _frame(at, "Cohort", "Treated", "Pending").set_index("Cohort")
    assert cohorts.loc["Medium dose", "Subjects with DLT"] == 0
    assert cohorts.loc["Medium dose", "DLTs rejected"] == 1
    with store.read_connection(db) as con:
        audit = queries.database.audit_entries(con, "NCT04232592", "dlt.")
    assert audit["action"].tolist() == ["dlt.reject"]
    assert audit["actor"].tolist() == ["sam"]
    log = _frame(at, "Decision", "Signature")  # the adjudication log shows the signature
    assert log["Signature"].iloc[0].endswith("UTC: I confirm this event is not a DLT")
    assert json.loads(audit["detail"].iloc[0])["reason"] == (
        "Endometritis present before the injection"
    )


def _frame(at: AppTest, *columns: str):
    """The first dataframe on the page that has all these columns."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def _option(at: AppTest, label: str) -> tuple[str, str, int]:
    """The event key (usubjid, source, seq) behind the selectbox label ``label``."""
    sel = at.session_state["selection"]
    with store.read_connection(sel.db) as con:
        events = queries.dlt.dlt_events(con, sel.config.study_id, sel.cutoff)
    usubjid, term = label.split(" · ")[:2]
    row = events[(events["usubjid"] == usubjid) & (events["term"] == term)].iloc[0]
    return row["usubjid"], row["source"], int(row["source_seq"])


def test_the_explanation_is_built_only_while_open_and_keeps_its_cohort(page):
    def shown() -> list[str]:
        return [people.plain(m.value) for m in page.markdown if "why each" in m.value]

    assert shown() == []  # collapsed: the records behind a decision are not read
    page.session_state["explain_open"] = True
    page.run()
    assert shown() == ["**Subjects and why each is or is not evaluable**",
                       "**Events and why each is or is not a DLT**"]
    page.selectbox(key="explain_cohort").select("HIGH").run()
    reasons = [people.plain(m.value) for m in page.markdown if m.value.startswith("**High dose:**")]
    assert reasons and reasons[0].startswith("**High dose:** pending: 4 of 8 evaluable")
    page.session_state["explain_open"] = False
    page.run()
    assert shown() == []
    page.session_state["explain_open"] = True
    page.run()
    assert page.selectbox(key="explain_cohort").value == "HIGH"  # kept while it was closed
