"""DLT adjudication write path, and the numbers the escalation decides on (demo NCT04232592).

The demo at its cut-off 2021-01-15 (BOIN, target 0.25, lambda_e 0.1968, lambda_d 0.2984):
LOW 0/8 DLT, MED 1/8 (endometritis, day 5), HIGH 6 dosed, 2 DLTs in the 4 evaluable
(anaphylaxis day 1, pelvic inflammatory disease day 6), 2 still in their DLT window. BOIN with
cohorts of 8 decides when a cohort's patients are evaluable (Liu & Yuan 2015: the next cohort's
dose from the current cohort's outcomes), so at the cut-off the decision at HIGH is pending and
the adjudications change what BOIN would say on the evaluable so far.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
import people
import pytest
from scenarios.sdtm import AE, CohortSpec, Study, Subject, deliver

from safety import store
from safety.config import parse_study_config
from safety.errors import AdjudicationError
from safety.monitor.decisions import decision_history
from safety.monitor.status import study_status
from safety.store import queries

STUDY = "NCT04232592"
CUTOFF = date(2021, 1, 15)
HARD_STOP = """
[[stopping_rules]]
kind = "hard_stop_terms"
name = "Teratoma"
terms = ["Teratoma"]
"""


@pytest.fixture
def db(fresh_demo):
    return fresh_demo


def _config(db):
    with store.read_connection(db) as con:
        return parse_study_config(queries.studies.study_config_text(con, STUDY), STUDY)


def _status(db):
    with store.read_connection(db) as con:
        return study_status(con, _config(db), CUTOFF)


def _events(db):
    with store.read_connection(db) as con:
        return queries.dlt.dlt_events(con, _config(db).study_id, CUTOFF)


def _candidate(db, cohort_id):
    events = _events(db)
    row = events[events["cohort_id"] == cohort_id].iloc[0]
    return row["usubjid"], int(row["source_seq"])


def _cohort(status, cohort_id):
    return next(c for c in status.cohorts if c.cohort_id == cohort_id)


def test_1_rejecting_the_med_dlt_changes_its_count_reason_and_is_audited(db):
    usubjid, seq = _candidate(db, "MED")
    before = _cohort(_status(db), "MED")
    assert (before.dlts, before.evaluable) == (1, 8)
    assert before.reason.startswith("What BOIN would say at this dose: 1 DLT in 8 at dose level 2")

    done = people.adjudicate(
        db, STUDY, usubjid, "adverse_event", seq, "rejected",
        "Endometritis present at the screening hysteroscopy",
    )  # fmt: skip

    after = _cohort(_status(db), "MED")
    assert after.dlts == 0
    assert after.reason.startswith("What BOIN would say at this dose: 0 DLTs in 8 at dose level 2")
    events = _events(db)
    rejected = events[(events["usubjid"] == usubjid) & (events["source_seq"] == seq)]
    assert rejected["dlt_status"].tolist() == ["rejected"]
    assert rejected["decided_by"].tolist() == ["sam"]
    # the signature is shown with the act: name, id, time (UTC) and meaning (21 CFR 11.50)
    assert rejected["signature"].str.fullmatch(
        r"Sam Safety \(sam\), \d{4}-\d\d-\d\d \d\d:\d\d UTC: I confirm this event is not a DLT"
    ).all()
    with store.read_connection(db) as con:
        audit = queries.database.audit_entries(con, STUDY, "dlt.")
    assert len(audit) == 1
    entry = audit.iloc[0]
    assert (entry["actor"], entry["action"], entry["usubjid"]) == (
        "sam", "dlt.reject", usubjid,
    )  # fmt: skip
    detail = json.loads(entry["detail"])
    assert detail["reason"] == "Endometritis present at the screening hysteroscopy"
    assert detail["previous_status"] == "candidate"
    assert detail["term"] == "Endometritis"
    assert detail["adjudication_id"] == done.adjudication_id
    assert detail["signature"]["meaning"] == "I confirm this event is not a DLT"
    assert detail["signature"]["method"] == "signature password"
    assert entry["logged_at"] == pd.Timestamp(done.decided_at)


def test_2_rejecting_a_high_dlt_changes_the_decision(db):
    # BOIN target 0.25: 2/4 = 0.50 > lambda_d 0.2984 -> de-escalate; 1/4 = 0.25 lies between
    # lambda_e 0.1968 and lambda_d 0.2984 -> stay (Liu & Yuan 2015, boundaries by closed form).
    # HIGH's cohort of 8 is not evaluable yet: pending, with what BOIN would say so far
    before = _status(db)
    assert (_cohort(before, "HIGH").decision, before.recommendation) == ("none",) * 2
    assert before.pending and "de-escalate to dose level 2" in before.provisional_reason
    events = _events(db)
    high = events[events["cohort_id"] == "HIGH"]
    # the HIGH woman with a single DLT event (the other also has a lab DLT: perihepatitis)
    single = high.groupby("usubjid").filter(lambda g: len(g) == 1).iloc[0]
    people.adjudicate(
        db, STUDY, single["usubjid"], single["source"], int(single["source_seq"]),
        "rejected", "Reaction to the premedication on review, not to the cells",
    )  # fmt: skip
    after = _status(db)
    high = _cohort(after, "HIGH")
    assert (high.dlts, high.decision, high.pending) == (1, "none", True)
    assert after.recommendation == "none" and after.recommended_dose_level == 3
    assert "1 DLT in 4 at dose level 3" in high.provisional_reason
    assert "stay at dose level 3" in after.provisional_reason


def test_3_confirming_keeps_the_count_and_a_later_decision_wins(db):
    usubjid, seq = _candidate(db, "MED")
    people.adjudicate(db, STUDY, usubjid, "adverse_event", seq, "rejected", "first look")
    people.adjudicate(db, STUDY, usubjid, "adverse_event", seq, "confirmed", "second look",
                      people.INVESTIGATOR)  # fmt: skip
    assert _cohort(_status(db), "MED").dlts == 1
    events = _events(db)
    row = events[(events["usubjid"] == usubjid) & (events["source_seq"] == seq)].iloc[0]
    assert (row["dlt_status"], row["adjudication_reason"]) == ("confirmed", "second look")
    with store.read_connection(db) as con:
        assert queries.database.audit_entries(con, STUDY, "dlt.")["action"].tolist() == [
            "dlt.confirm", "dlt.reject",
        ]  # fmt: skip


def test_4_adding_a_dlt_counts_it_from_its_onset_and_it_can_be_withdrawn(db):
    with store.read_connection(db) as con:
        states = queries.dlt.subject_dlt_states(con, _config(db).study_id, CUTOFF)
    low = states[states["cohort_id"] == "LOW"].iloc[0]
    onset = (pd.Timestamp(low["first_dose_date"]) + pd.Timedelta(days=3)).date()
    added = people.adjudicate(
        db, STUDY, low["usubjid"], "manual", None, "added", "Investigator: grade 3 bleeding",
        onset_date=onset, description="Uterine haemorrhage grade 3",
    )  # fmt: skip
    assert _cohort(_status(db), "LOW").dlts == 1
    with store.read_connection(db) as con:  # not yet at a cut-off before the onset
        earlier = study_status(con, _config(db), onset - pd.Timedelta(days=1))
    assert _cohort(earlier, "LOW").dlts == 0
    people.adjudicate(
        db, STUDY, low["usubjid"], "manual", added.source_seq, "rejected", "entered in error",
    )  # fmt: skip
    assert _cohort(_status(db), "LOW").dlts == 0
    events = _events(db)
    manual = events[events["source"] == "manual"]
    assert manual["dlt_status"].tolist() == ["rejected"]
    assert manual["term"].tolist() == ["Uterine haemorrhage grade 3"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reason": "   "}, "reason is required"),
        ({"reason": ""}, "reason is required"),
        ({"decision": "maybe"}, "decision must be one of"),
        ({"source_seq": 999}, "is not a DLT candidate"),
        ({"usubjid": "NOBODY"}, "no subject"),
    ],
)
def test_5_bad_adjudications_are_refused_and_nothing_is_written(db, kwargs, message):
    usubjid, seq = _candidate(db, "MED")
    args = {
        "usubjid": usubjid, "source_seq": seq, "decision": "rejected", "reason": "why",
    } | kwargs  # fmt: skip
    with pytest.raises(AdjudicationError, match=message):
        people.adjudicate(
            db, STUDY, args["usubjid"], "adverse_event", args["source_seq"], args["decision"],
            args["reason"],
        )  # fmt: skip
    with store.read_connection(db) as con:
        assert queries.dlt.adjudications(con, STUDY).empty
        assert queries.database.audit_entries(con, STUDY, "dlt.").empty


def test_6_an_addition_needs_onset_and_description(db):
    usubjid, _ = _candidate(db, "MED")
    with pytest.raises(AdjudicationError, match="onset date and a description"):
        people.adjudicate(db, STUDY, usubjid, "manual", None, "added", "why")


def test_7_adjudicated_by_shows_the_decision_as_it_was_known_then(db):
    usubjid, seq = _candidate(db, "MED")
    done = people.adjudicate(db, STUDY, usubjid, "adverse_event", seq, "rejected", "why")
    with store.read_connection(db) as con:
        then = study_status(
            con, _config(db), CUTOFF, adjudicated_by=done.decided_at - pd.Timedelta(seconds=1)
        )
    assert _cohort(then, "MED").dlts == 1


# --- status numbers: every treated patient counts for the sample-size rules ------------------


def test_8_max_sample_size_counts_pending_patients(db):
    # 8 LOW + 8 MED + 6 HIGH treated = 22 (20 evaluable, 2 HIGH pending); protocol maximum 24
    status = _status(db)
    rule = next(r for r in status.rules if r.name == "Maximum sample size")
    assert rule.detail.startswith("22 of the maximum 24 patients treated")
    assert "2 without a DLT outcome yet" in rule.detail
    assert rule.state == "warning"  # within one cohort of 3 of the limit
    assert status.totals["treated"] - 8 == 22  # control not counted


def test_9_cohort_evaluable_on_is_when_the_last_window_closes(db):
    status = _status(db)
    high = _cohort(status, "HIGH")
    # the last HIGH woman was dosed 2020-12-31; 28-day window, day 1 = first dose
    assert high.evaluable_on == date(2021, 1, 27)
    assert high.days_to_evaluable == 12
    assert high.to_json()["evaluable_on"] == "2021-01-27"
    low = _cohort(status, "LOW").to_json()
    assert (low["evaluable_on"], low["days_to_evaluable"]) == (None, 0)
    for key in ("id", "label", "control", "dose", "dose_unit", "subjects", "treated",
                "in_dlt_window", "dlts", "saes", "decision", "reason", "rules"):  # fmt: skip
        assert key in low


def test_10_decision_history_recomputes_on_each_change(db):
    with store.read_connection(db) as con:
        history = decision_history(con, _config(db), CUTOFF)
    assert history["day"].is_monotonic_increasing
    last = history.iloc[-1]
    assert (last["decision_state"], last["dose_level"]) == ("pending", 3)
    assert last["outcomes"] == _status(db).outcomes
    # decisions as they could have been taken: LOW escalates once its 8 women are evaluable,
    # not after the first one (the February 2020 case)
    first_escalation = history[history["decision"] == "escalate"].iloc[0]
    assert (first_escalation["outcomes"], first_escalation["dose_level"]) == ("1NNNNNNNN", 2)
    assert (history[history["day"] < first_escalation["day"]]["decision_state"] == "pending").all()
    # the first HIGH woman (anaphylaxis on the day of dosing) opens HIGH's cohort: pending
    anaphylaxis = history[history["events"].str.contains("Anaphylactic")].iloc[0]
    assert anaphylaxis["changed"] and anaphylaxis["decision_state"] == "pending"
    assert not history["events"].str.contains("-01-017").any()  # a control subject


def _history_is_the_status_day_by_day(con, config, history) -> None:
    """Each day of the history gives what the status gives at that day as cut-off, with the
    adjudications recorded by the end of that day."""
    for row in history.itertuples():
        then = study_status(con, config, row.day,
                            adjudicated_by=datetime.combine(row.day + timedelta(days=1),
                                                            datetime.min.time()))
        dose_level = None if pd.isna(row.dose_level) else int(row.dose_level)  # a stop: none
        assert (row.decision, row.decision_state, dose_level, row.reason, row.outcomes) == (
            then.recommendation, then.decision_label,
            then.recommended_dose_level, then.recommendation_reason, then.outcomes), row.day
        dose = [c for c in then.cohorts if not c.control]
        assert (row.treated, row.pending) == (sum(c.treated for c in dose),
                                              sum(c.in_dlt_window for c in dose)), row.day


def test_every_day_of_the_history_is_the_status_as_it_stood_that_day(demo_db):
    # The history decides for every day at once (one query for all days' states); the status
    # reads one cut-off.
    config = _config(demo_db)
    with store.read_connection(demo_db) as con:
        cutoff = queries.studies.studies(con).set_index("study_id").loc[STUDY, "data_cutoff"]
        history = decision_history(con, config, cutoff.date())
        assert len(history) > 30
        _history_is_the_status_day_by_day(con, config, history)


def test_the_history_stops_on_the_day_of_a_hard_stop_event(tmp_path):
    # A small study delivered as SDTM files through the real ingest: 3 women at each of two
    # doses; a teratoma (the protocol's hard-stop term) in H1-02 on study day 12 (2023-01-21)
    # and another in H2-01 on day 3 (2023-02-15). Before the first the design decides as usual;
    # from its day on the trial stops, naming every teratoma found by that day (the first
    # alone, then both).
    study = Study("SCN-HARD", [CohortSpec("DL1", "Dose level 1", 1, 1.0),
                               CohortSpec("DL2", "Dose level 2", 2, 2.0)],
                  stopping_rules=HARD_STOP, labs=False, subjects=[
        Subject("H1-01", "DL1", "2023-01-09T09:00"),
        Subject("H1-02", "DL1", "2023-01-10T09:00",
                aes=[AE("Teratoma", day=12, grade=2, soc="NEOPLASMS BENIGN, MALIGNANT AND "
                        "UNSPECIFIED (INCL CYSTS AND POLYPS)")]),
        Subject("H1-03", "DL1", "2023-01-11T09:00"),
        Subject("H2-01", "DL2", "2023-02-13T09:00",
                aes=[AE("Teratoma", day=3, grade=2, soc="NEOPLASMS BENIGN, MALIGNANT AND "
                        "UNSPECIFIED (INCL CYSTS AND POLYPS)")]),
        Subject("H2-02", "DL2", "2023-02-14T09:00"),
    ])  # fmt: skip
    db = deliver(study, tmp_path)
    with store.read_connection(db) as con:
        config = parse_study_config(queries.studies.study_config_text(con, "SCN-HARD"),
                                    "SCN-HARD")
        history = decision_history(con, config, date(2023, 4, 30))
        _history_is_the_status_day_by_day(con, config, history)
    history = history.set_index("day")
    first, second = date(2023, 1, 21), date(2023, 2, 15)
    assert first in history.index and second in history.index
    before = history[history.index < first]
    assert len(before) and not before["reason"].str.contains("Hard-stop").any()
    stopped = history[history.index >= first]
    assert (stopped["decision"] == "stop").all()
    one = stopped[stopped.index < second]["reason"]
    assert one.str.contains("Teratoma in SCN-HARD-H1-02 on 2023-01-21").all()
    assert not one.str.contains("H2-01").any()
    assert stopped[stopped.index >= second]["reason"].str.contains(
        "Teratoma in SCN-HARD-H1-02 on 2023-01-21; Teratoma in SCN-HARD-H2-01 on 2023-02-15").all()
