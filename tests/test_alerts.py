"""Alert rules on crafted data, once-per-batch evaluation, and acknowledgement to the audit log."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import people
import pytest

from safety import store
from safety.clinical import labs
from safety.config import find_study_config
from safety.demo import scenario
from safety.demo.live import LiveFeed
from safety.errors import AlertError
from safety.ingest import ingest_paths
from safety.monitor import alerts
from safety.monitor.status import study_status
from safety.store import queries

STUDY = scenario.DEMO_STUDY_ID


@pytest.fixture
def db(fresh_demo):
    return fresh_demo


def test_1_serious_ae_is_an_sae_alert_non_serious_grade_3_a_grade3_alert():
    # ICH E2A: serious -> SAE (critical); CTCAE grade >= 3 not serious -> grade3 (high); else none
    events = pd.DataFrame(
        [
            (
                "S-1",
                "HIGH",
                1,
                "Endometritis",
                "2021-01-20",
                date(2021, 1, 20),
                3,
                True,
                True,
                "RELATED",
                None,
            ),
            (
                "S-2",
                "LOW",
                4,
                "Headache",
                "2021-01-21",
                date(2021, 1, 21),
                3,
                False,
                False,
                "NOT RELATED",
                None,
            ),
            (
                "S-3",
                "LOW",
                5,
                "Nausea",
                "2021-01-22",
                date(2021, 1, 22),
                2,
                False,
                False,
                "NOT RELATED",
                None,
            ),
        ],
        columns=[
            "usubjid",
            "cohort_id",
            "seq",
            "pt",
            "start_dtc",
            "start_date",
            "grade",
            "serious",
            "related",
            "causality",
            "outcome",
        ],
    )
    got = alerts.derive_event_alerts(STUDY, events)
    assert [(a.kind, a.severity, a.usubjid) for a in got] == [
        ("sae", "critical", "S-1"),
        ("grade3", "high", "S-2"),
    ]
    assert got[0].alert_key == "sae|S-1|Endometritis|2021-01-20"
    assert got[0].link == "patient?study=NCT04232592&subject=S-1"
    assert got[0].cohort_id == "HIGH" and got[0].event_date == date(2021, 1, 20)


def test_2_rejected_dlt_candidates_raise_nothing():
    dlts = pd.DataFrame(
        [
            (
                "S-1",
                "HIGH",
                "adverse_event",
                1,
                "Endometritis",
                date(2021, 1, 20),
                5,
                3,
                "grade 3 related",
                "candidate",
            ),
            (
                "S-2",
                "HIGH",
                "lab",
                9,
                "ALT increased",
                date(2021, 1, 21),
                7,
                3,
                "lab grade 3",
                "rejected",
            ),
        ],
        columns=[
            "usubjid",
            "cohort_id",
            "source",
            "source_seq",
            "term",
            "onset_date",
            "onset_day",
            "grade",
            "dlt_rule",
            "dlt_status",
        ],
    )
    got = alerts.derive_dlt_alerts(STUDY, dlts)
    assert [(a.kind, a.usubjid, a.title) for a in got] == [
        ("dlt", "S-1", "DLT candidate: Endometritis in S-1")
    ]


def test_3_hys_law_alert_from_liver_peaks():
    # FDA DILI guidance (2009): ALT >= 3 x ULN and bilirubin >= 2 x ULN; S-2 has no jaundice
    peaks = pd.DataFrame(
        [
            ("S-1", "HIGH", 4.0, 3.0, 2.5, 1.0, date(2021, 1, 22)),
            ("S-2", "HIGH", 5.0, 3.0, 1.0, 1.0, date(2021, 1, 22)),
        ],
        columns=[
            "usubjid",
            "cohort_id",
            "alt_x_uln",
            "ast_x_uln",
            "bili_x_uln",
            "alp_x_uln",
            "bili_date",
        ],
    ).assign(cohort_label="High dose")
    got = alerts.derive_hys_law_alerts(STUDY, labs.hys_law_candidates(labs.derive_edish(peaks)))
    assert [(a.kind, a.severity, a.usubjid) for a in got] == [("hys_law", "critical", "S-1")]
    assert "ALT 4.0 x ULN" in got[0].detail and "bilirubin 2.5 x ULN" in got[0].detail


def test_4_rule_and_decision_changes_against_the_previous_evaluation(db):
    config = find_study_config(STUDY)
    with store.read_connection(db) as con:
        status = study_status(con, config, scenario.DEMO_CUTOFF)
    after = alerts.snapshot_of(status)
    # the demo at its cut-off: HIGH pending (4 of 8 evaluable), max sample size warning, HIGH
    # accrual warning
    assert after.decisions["HIGH"] == "pending"
    assert after.rule_states["study|Maximum sample size"] == "warning"
    before = alerts.StudySnapshot(
        {
            **after.rule_states,
            "study|Maximum sample size": "ok",
            "HIGH|Accrual pause (pending DLT windows)": "ok",
        },
        {**after.decisions, "HIGH": "escalate"},
    )
    got = alerts.derive_change_alerts(status, before, after, batch_id=42)
    assert sorted((a.kind, a.severity, a.cohort_id) for a in got) == [
        ("accrual_pause", "medium", "HIGH"),  # ok -> warning: not yet "should pause"
        ("decision", "high", "HIGH"),  # escalate -> pending: not a safety action
        ("rule", "medium", None),  # max sample size ok -> warning
    ]
    decision = next(a for a in got if a.kind == "decision")
    assert decision.title == "Decision for High dose changed: escalate -> pending"
    assert decision.alert_key == "decision|HIGH|escalate->pending|b42"
    assert decision.link == "escalation?study=NCT04232592"
    # the same snapshot twice: nothing changed, nothing raised
    assert alerts.derive_change_alerts(status, after, after, batch_id=43) == []


def test_5_accrual_pause_triggered_is_its_own_alert(db):
    config = find_study_config(STUDY)
    with store.read_connection(db) as con:
        status = study_status(con, config, scenario.DEMO_CUTOFF)
    after = alerts.snapshot_of(status)
    triggered = alerts.StudySnapshot(
        {**after.rule_states, "HIGH|Accrual pause (pending DLT windows)": "triggered"},
        after.decisions,
    )
    got = alerts.derive_change_alerts(status, after, triggered, batch_id=7)
    assert [(a.kind, a.severity, a.title) for a in got] == [
        ("accrual_pause", "high", "Accrual should pause in High dose")
    ]


def test_6_first_evaluation_is_baseline_then_once_per_new_batch(db, tmp_path):
    assert alerts.refresh_alerts(db) == []  # baseline: recorded, not news
    with store.read_connection(db) as con:
        feed = queries.alerts.alert_feed(con, STUDY)
    assert len(feed) >= 5 and (feed["acknowledged_by"] == "system").all()
    assert set(feed["kind"]) >= {"sae", "dlt"}
    assert alerts.refresh_alerts(db) == []  # nothing new: nothing evaluated
    # six days of the live feed: HIGH's third woman's pelvic infection on 2021-01-21
    feed_ = LiveFeed()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for _ in range(6):
        feed_.advance()
        ingest_paths(feed_.write(inbox), db=db, user=people.DATA_MANAGER)
        for f in inbox.iterdir():
            f.unlink()
    raised = alerts.refresh_alerts(db)
    kinds = {(a.kind, a.usubjid) for a in raised}
    assert ("sae", "NCT04232592-01-031") in kinds and ("dlt", "NCT04232592-01-031") in kinds
    assert any(a.kind == "decision" and a.cohort_id == "HIGH" for a in raised)
    assert alerts.refresh_alerts(db) == []  # computed once per batch
    with store.read_connection(db) as con:
        keys = queries.alerts.alert_feed(con, STUDY)["alert_key"]
        raised_log = con.execute(
            "SELECT detail FROM audit_log WHERE action = 'alert.raise' ORDER BY audit_id"
        ).fetchall()
    assert keys.is_unique
    assert [json.loads(d)["baseline"] for (d,) in raised_log] == [True, False]


def test_7_acknowledge_round_trip_to_the_audit_log(db):
    alerts.refresh_alerts(db)
    with store.write_connection(db) as con:
        con.execute(
            "UPDATE alert SET acknowledged_by = NULL, acknowledged_at = NULL, ack_comment = NULL"
        )
        ids = [int(i) for i in queries.alerts.alert_feed(con, STUDY)["alert_id"][:2]]
    with pytest.raises(AlertError, match="comment"):
        people.acknowledge(db, ids, "   ")
    assert people.acknowledge(db, ids, "Reviewed with the PI") == sorted(ids)
    assert people.acknowledge(db, ids, "again") == []  # the first acknowledgement stands
    with store.read_connection(db) as con:
        feed = queries.alerts.alert_feed(con, STUDY).set_index("alert_id")
        log = con.execute(
            "SELECT actor, study_id, detail FROM audit_log WHERE action = 'alert.acknowledge'"
        ).fetchall()
        counts = queries.alerts.unacknowledged_alert_counts(con)
    assert feed.loc[ids, "acknowledged_by"].tolist() == ["sam", "sam"]
    assert feed.loc[ids, "ack_signature"].str.endswith(
        "UTC: I have reviewed this alert and acknowledge it").all()
    assert feed.loc[ids, "ack_comment"].tolist() == ["Reviewed with the PI"] * 2
    assert sorted(json.loads(d)["alert_id"] for _, _, d in log) == sorted(ids)
    assert {(a, s) for a, s, _ in log} == {("sam", STUDY)}
    assert counts["alerts"].sum() == len(feed) - 2
