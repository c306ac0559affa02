"""The patient profile's library: one patient's records, the narrative's facts read back from the
database, reviews with their audit entries, previous / next, and the timeline figure."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import people
import pytest

from safety import charts, store
from safety.config import parse_study_config
from safety.demo import scenario
from safety.errors import AccessDenied, ReviewError
from safety.monitor import narrative, patient
from safety.store import queries

STUDY = "NCT04232592"
CUTOFF = scenario.DEMO_CUTOFF


@pytest.fixture(scope="module")
def con(demo_db):
    with store.read_connection(demo_db) as connection:
        yield connection


@pytest.fixture(scope="module")
def config(con):
    return parse_study_config(queries.studies.study_config_text(con, STUDY))


def _profile(con, config, usubjid):
    return patient.load_profile(con, config, usubjid, CUTOFF)


def test_1_patient_rows_are_the_study_rows_of_that_patient(con, config):
    # the per-patient DLT queries wrap the study-wide rule: same answer for every subject
    states = queries.dlt.subject_dlt_states(con, STUDY, CUTOFF).set_index("usubjid")
    events = queries.dlt.dlt_events(con, STUDY, CUTOFF)
    for usubjid in states.index:
        mine = queries.patient.patient_dlt_state(con, STUDY, usubjid, CUTOFF).iloc[0]
        assert mine["dlt_state"] == states.loc[usubjid, "dlt_state"], usubjid
        assert mine["dlts"] == states.loc[usubjid, "dlts"], usubjid
        theirs = events[events["usubjid"] == usubjid]
        assert (
            queries.patient.patient_dlt_events(con, STUDY, usubjid, CUTOFF)[
                "source_seq"
            ].tolist()
            == theirs["source_seq"].tolist()
        )


def test_2_unknown_subject_has_no_profile(con, config):
    assert _profile(con, config, "NO-SUCH-SUBJECT") is None
    assert queries.subjects.subject_study(con, "NO-SUCH-SUBJECT") is None
    assert queries.subjects.subject_study(con, "NCT04232592-01-001") == STUDY


def test_3_neighbours_step_within_the_cohort():
    roster = pd.DataFrame(
        {
            "usubjid": ["C1", "C2", "L1", "L2", "L3", "X1"],
            "cohort_id": ["CTRL", "CTRL", "LOW", "LOW", "LOW", None],
        }
    )
    assert patient.neighbours(roster, "L1") == (None, "L2")
    assert patient.neighbours(roster, "L2") == ("L1", "L3")
    assert patient.neighbours(roster, "L3") == ("L2", None)  # not into the next cohort
    assert patient.neighbours(roster, "C2") == ("C1", None)
    assert patient.neighbours(roster, "X1") == (None, None)  # no cohort: alone
    assert patient.neighbours(roster, "nobody") == (None, None)


def _records(db, usubjid):
    """The facts the narrative must tell, read straight from the tables (not via the library)."""
    with duckdb.connect(str(db), read_only=True) as c:
        ae = c.execute(
            "SELECT seq, pt, start_date, end_date, grade, serious, causality, outcome "
            "FROM adverse_event WHERE usubjid = ? AND start_date <= ? ORDER BY seq",
            [usubjid, CUTOFF],
        ).df()
        subject = c.execute(
            "SELECT age, cohort_id, first_dose_date FROM subject WHERE usubjid = ?", [usubjid]
        ).fetchone()
    return ae, subject


@pytest.mark.parametrize(
    "usubjid",
    [
        "NCT04232592-01-004",  # LOW #3: PID grade 3 serious on day 60, not a DLT
        "NCT04232592-01-024",  # HIGH #1: anaphylaxis on the injection day, a DLT
        "NCT04232592-01-025",  # HIGH #2: ALT grade 2 at DAY 7
        "NCT04232592-01-026",  # HIGH #4: PID grade 3 serious related on day 6, a DLT
        "NCT04232592-01-012",  # CTRL #4: appendicitis, an SAE, never a DLT
        "NCT04232592-01-031",  # HIGH, in screening: not dosed
    ],
)
def test_4_the_narrative_tells_the_facts_of_the_records(demo_db, con, config, usubjid):
    profile = _profile(con, config, usubjid)
    sentences = narrative.patient_narrative(profile)
    text = narrative.narrative_text(sentences)
    ae, (age, cohort_id, first_dose) = _records(demo_db, usubjid)

    assert all(s.sources for s in sentences)  # every sentence names its records
    assert f"{age}-year-old female" in text
    label = {"CTRL": "Control", "LOW": "Low dose", "MED": "Medium dose", "HIGH": "High dose"}
    assert label[cohort_id] in text
    if pd.isna(first_dose):
        assert "had not been dosed" in text and "DLT assessment window" not in text
    else:
        assert f"on {first_dose} (study day 1)" in text
    n = len(ae)
    assert f"{n} adverse event{'s' if n != 1 else ''} started by the cut-off" in text
    if n:
        assert f"worst CTCAE grade {int(ae['grade'].max())}" in text
        assert f"{int(ae['serious'].sum())} w" in text  # "1 was serious" / "0 were serious"
    # every serious or grade >= 3 AE: onset date and study day, grade, seriousness, causality,
    # and how it ended, each as recorded
    notable = ae[ae["serious"] | (ae["grade"] >= 3)]
    for row in notable.itertuples():
        day = (row.start_date.date() - first_dose).days + 1
        assert f"On study day {day} ({row.start_date.date()}), {row.pt}" in text
        sentence = next(s for s in sentences if s.sources == (f"AE {row.seq}",))
        assert f"CTCAE grade {row.grade}" in sentence.text
        assert ("serious," if row.serious else "not serious,") in sentence.text
        assert f"causality {row.causality.lower()}" in sentence.text
        if pd.notna(row.end_date) and row.end_date.date() <= CUTOFF:
            assert f"It ended on {row.end_date.date()}" in sentence.text
            assert f"outcome {row.outcome.lower()}" in sentence.text
        else:
            assert "ongoing at the cut-off" in sentence.text
    # non-notable AEs get no sentence of their own
    quiet = set(ae["seq"]) - set(notable["seq"]) - set(profile.dlt_events["source_seq"])
    told = [s for s in sentences if s.text.startswith("On ")]
    assert not any(s.sources == (f"AE {q}",) for q in quiet for s in told)
    # the DLT-window state is the rule's
    state = queries.dlt.subject_dlt_states(con, STUDY, CUTOFF).set_index("usubjid")
    if pd.notna(first_dose):
        window = next(s for s in sentences if s.sources == ("DLT state",)).text
        expected = {"DLT": "DLT (", "evaluable": "evaluable", "pending": "pending"}
        assert expected[state.loc[usubjid, "dlt_state"]] in window


def test_5_the_narrative_names_dlts_and_lab_abnormalities(con, config):
    text = narrative.narrative_text(
        narrative.patient_narrative(_profile(con, config, "NCT04232592-01-026"))
    )
    assert ("DLT candidate by the protocol rule (grade 3 >= 3, related (RELATED), onset on study "
            "day 6 of 28)") in text
    profile = _profile(con, config, "NCT04232592-01-026")
    for row in profile.dlt_events[profile.dlt_events["source"] == "lab"].itertuples():
        assert f"lab DLT criterion ({row.dlt_rule}): a DLT candidate" in text
    anaphylaxis = narrative.narrative_text(
        narrative.patient_narrative(_profile(con, config, "NCT04232592-01-024"))
    )
    assert "always-DLT term" in anaphylaxis
    # HIGH #2: ALT about 4 x ULN at DAY 7 is grade 2 (CTCAE v5.0: > 3.0 - 5.0 x ULN)
    profile = _profile(con, config, "NCT04232592-01-025")
    alt = profile.labs[(profile.labs["test_code"] == "ALT") & (profile.labs["worst_grade"] >= 2)]
    assert len(alt) == 1
    row = alt.iloc[0]
    text = narrative.narrative_text(narrative.patient_narrative(profile))
    assert (
        f"Alanine aminotransferase increased: the worst result was CTCAE grade 2, ALT "
        f"{row['value']:g} U/L, {row['value'] / row['uln']:.1f} x ULN (study day "
        f"{row['study_day']}, {row['collected_date'].date()}, DAY 7)" in text
    )
    # a patient without grade >= 2 labs is told so, not left silent
    quiet = narrative.narrative_text(
        narrative.patient_narrative(_profile(con, config, "NCT04232592-01-004"))
    )
    assert "No lab result reached CTCAE grade 2 or higher" in quiet


def test_6_review_round_trip_with_audit(fresh_demo):
    db = fresh_demo
    usubjid = "NCT04232592-01-026"
    first = patient.record_review(db, STUDY, usubjid, "needs follow-up", " Ask for labs ",
                                  people.INVESTIGATOR)  # fmt: skip
    second = patient.record_review(db, STUDY, usubjid, "reviewed", "", people.SAFETY_OFFICER)
    assert second > first
    with store.read_connection(db) as c:
        reviews = queries.patient.subject_reviews(c, STUDY, usubjid)
        audit = queries.patient.patient_audit(c, STUDY, usubjid)
        roster = queries.subjects.study_roster(c, STUDY).set_index("usubjid")
    assert reviews["status"].tolist() == ["reviewed", "needs follow-up"]
    assert reviews["note"].isna().tolist() == [True, False]  # blank note stored as NULL
    assert reviews["note"].iloc[1] == "Ask for labs"
    assert reviews["reviewed_by"].tolist() == ["sam", "ines"]
    assert audit["action"].tolist() == ["review.record", "review.record"]
    detail = json.loads(audit["detail"].iloc[0])
    assert (detail["status"], detail["previous"]) == ("reviewed", "needs follow-up")
    assert roster.loc[usubjid, "review_status"] == "reviewed"
    assert pd.isna(roster.loc["NCT04232592-01-001", "review_status"])

    with pytest.raises(ReviewError, match="status must be one of"):
        patient.record_review(db, STUDY, usubjid, "fine", None, people.SAFETY_OFFICER)
    with pytest.raises(ReviewError, match="no subject"):
        patient.record_review(db, STUDY, "NOBODY", "reviewed", None, people.SAFETY_OFFICER)
    with pytest.raises(AccessDenied, match="Iris Investigator .* site 01 .your sites: 02"):
        patient.record_review(db, STUDY, usubjid, "reviewed", None, people.OTHER_INVESTIGATOR)
    with store.read_connection(db) as c:  # nothing half-written by the refusals
        assert len(queries.patient.subject_reviews(c, STUDY, usubjid)) == 2


def test_7_timeline_figure_has_the_patients_events(con, config):
    profile = _profile(con, config, "NCT04232592-01-026")
    events = profile.timeline_events()
    fig = charts.patient.patient_timeline(events, window_days=28, cutoff_day=26)
    by_name = {t.name: t for t in fig.data}
    grade3 = by_name["Grade 3"]
    assert list(grade3.y) == ["AE 4 · Pelvic inflammatory disease"]
    assert grade3.marker.color == charts.style.GRADE_COLOURS[3]
    assert list(grade3.marker.line.color) == [charts.patient.SERIOUS_OUTLINE]  # serious
    assert list(grade3.marker.pattern.shape) == ["/"]  # related
    # the bar runs from onset (study day 6) to resolution (study day 22), whole days
    assert list(grade3.base) == [5.5] and list(grade3.x) == [17.0]
    dlt = by_name["DLT candidate (not adjudicated)"]
    candidates = profile.dlt_events
    assert len(dlt.x) == len(candidates)
    assert (6.0, "AE 4 · Pelvic inflammatory disease") in set(zip(dlt.x, dlt.y, strict=True))
    for row in candidates[candidates["source"] == "lab"].itertuples():  # a row of its own
        assert (float(row.onset_day), f"Lab DLT · {row.term}") in set(
            zip(dlt.x, dlt.y, strict=True)
        )
        assert f"Lab DLT · {row.term}" in fig.layout.yaxis.categoryarray
    assert list(by_name["Dose"].x) == [1.0]  # study day 1 (SDTM --DY: no day 0)
    window = [s for s in fig.layout.shapes if s.type == "rect"][0]
    assert (window.x0, window.x1) == (0.5, 28.5)  # study days 1..28
    ae_rows = sum(len(t.y) for t in fig.data if t.name.startswith("Grade"))
    assert ae_rows == len(profile.adverse_events)


def test_8_profile_of_an_earlier_cutoff_leaves_later_records_out(con, config):
    early = date(2020, 12, 24)  # HIGH #4 dosed 2020-12-20; her PID starts on the 25th
    profile = patient.load_profile(con, config, "NCT04232592-01-026", early)
    assert (profile.adverse_events["start_date"].dt.date <= early).all()
    assert "Pelvic inflammatory disease" not in profile.adverse_events["pt"].tolist()
    assert profile.dlt_state["dlt_state"] == "pending"
    assert profile.subject["days_on_study"] == 5
    assert (profile.labs["collected_date"].dt.date <= early).all()


@pytest.mark.parametrize("left, text", [
    (1, "pending: 1 day left of 28 (the window ends on 2021-01-16)"),
    (12, "pending: 12 days left of 28 (the window ends on 2021-01-16)"),
])
def test_9_window_text_in_plain_words(left, text):
    state = {"dlt_state": "pending", "days_left": left, "window_end": date(2021, 1, 16)}
    assert patient.dlt_window_text(state, 28) == text


def test_10_window_end_tense_follows_the_cutoff():
    # "The DLT window ended on <a date after the cut-off>" was wrong text
    assert patient.window_end_text(date(2021, 1, 27), date(2021, 1, 15)) == (
        "The DLT window ends on 2021-01-27")
    assert patient.window_end_text(date(2021, 1, 10), date(2021, 1, 15)) == (
        "The DLT window ended on 2021-01-10")


def test_11_study_days_have_no_day_0():
    # SDTMIG 3.x --DY: the first dose day is day 1, the day before is day -1
    first = date(2021, 1, 10)
    days = patient.study_days(pd.Series(pd.to_datetime(["2021-01-09", "2021-01-10",
                                                        "2021-01-11"])), first)
    assert days.tolist() == [-1, 1, 2]
