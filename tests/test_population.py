"""One analysis population: the same question gets the same number on every page and report.

The safety analysis set is the subjects dosed by the cut-off (ICH E9 5.2 / 6.2; ICH E3 12.2);
its adverse events are the TEAEs (ICH E9 7.2.2). N per cohort, subjects with a serious TEAE,
subjects by worst TEAE grade and deaths are asked of it by the status (Overview cohort table and
cards, Dose escalation page, ``status --json``), by the AE tables (Adverse events page) and by
the DSMB reports (open and closed). Checked on the demo at two cut-offs, including the one
where High dose has 6 of 8 women dosed (the issue's "7 subjects of 6 treated"); the open
report at the last.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from safety import charts, store
from safety.config import stored_study_config
from safety.monitor import adverse_events
from safety.monitor.status import study_status
from safety.report.tables import report_content
from safety.store import queries

CUTOFFS = (date(2020, 12, 10), date(2021, 1, 15))  # HIGH enrolling; the demo's cut-off
HEADER = re.compile(r"^(?P<label>.+) \(N=(?P<n>\d+)\)$")


def _headers(columns) -> dict[str, int]:
    """``{"Low dose": 8}`` from columns such as ``"Low dose (N=8)"``."""
    return {m["label"]: int(m["n"]) for c in columns if (m := HEADER.match(str(c)))}


def _n(cell: str) -> int:
    """The n of an ``"n (pct%)"`` cell."""
    return int(str(cell).split(" ")[0])


@pytest.fixture(scope="module")
def numbers(demo_db) -> dict[date, dict]:
    out = {}
    with store.read_connection(demo_db) as con:
        row = queries.studies.studies(con).iloc[0]
        config = stored_study_config(row["config_toml"], row["study_id"])
        for cutoff in CUTOFFS:
            out[cutoff] = {
                "status": study_status(con, config, cutoff),
                "listing": adverse_events.ae_listing(con, config, cutoff),
                "by_month": queries.adverse_events.ae_counts_by_month(con, config.study_id, cutoff),
                "summary": adverse_events.ae_summary(con, config, cutoff),
                "incidence": adverse_events.soc_pt_incidence(con, config, cutoff),
                "deaths": adverse_events.deaths(con, config, cutoff),
                "closed": report_content(con, config, cutoff, "closed"),
            }
        out[CUTOFFS[-1]]["open"] = report_content(con, config, CUTOFFS[-1], "open")
    return out


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_the_same_n_in_every_header(numbers, cutoff):
    x = numbers[cutoff]
    status = x["status"]
    treated = {c.label: c.treated for c in status.cohorts}
    assert dict(zip(status.cohort_table()["Cohort"], status.cohort_table()["Treated (N)"],
                    strict=True)) == treated
    summary = x["summary"].drop_duplicates("cohort_label")
    assert dict(zip(summary["cohort_label"], summary["N"], strict=True)) == treated
    any_row = x["incidence"][x["incidence"]["level"] == "any"]
    assert dict(zip(any_row["cohort_label"], any_row["N"], strict=True)) == treated
    closed = x["closed"]
    for key in ("ae_summary", "ae_soc", "ae_pt", "deaths"):
        assert _headers(closed.table(key).frame.columns) == {
            **treated, **({"All cohorts": sum(treated.values())} if key == "deaths" else {})}, key
    worst = closed.table("ae_worst_grade").frame
    assert _headers(worst["Cohort"]) == treated
    escalation = closed.table("escalation").frame
    assert dict(zip(escalation["Cohort"], escalation["Treated (N)"], strict=True)) == treated
    enrolment = closed.table("enrolment").frame
    assert dict(zip(enrolment["Cohort"], enrolment["Treated"], strict=True)) == treated
    if "open" in x:
        pooled = x["open"]
        assert _headers(pooled.table("ae_summary").frame.columns) == {
            "All cohorts": sum(treated.values())}
        assert int(pooled.table("enrolment").frame["Treated"].iloc[0]) == sum(treated.values())
        assert _headers(pooled.table("deaths").frame.columns) == {
            "All cohorts": sum(treated.values())}


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_the_same_subjects_with_a_serious_teae_and_the_same_deaths(numbers, cutoff):
    x = numbers[cutoff]
    saes = {c.label: c.saes for c in x["status"].cohorts}
    summary = x["summary"]
    serious = summary[summary["category"] == "serious"]
    assert dict(zip(serious["cohort_label"], serious["n"], strict=True)) == saes
    table = x["closed"].table("ae_summary").frame.set_index("Subjects with")
    row = table.loc["Serious TEAE"]
    assert {label: _n(row[f"{label} (N={n})"]) for label, n in
            ((c.label, c.treated) for c in x["status"].cohorts)} == saes
    deaths = x["deaths"].groupby("cohort_label").size().to_dict()
    assert {c.label: c.deaths for c in x["status"].cohorts} == {
        c.label: deaths.get(c.label, 0) for c in x["status"].cohorts}


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_the_same_worst_grades_on_the_overview_and_the_ae_tables(numbers, cutoff):
    # the Overview's "worst AE grade" chart and cohort table read the status' cohort frame;
    # the AE page and the reports read the incidence's 'any' row: both count TEAEs of N
    x = numbers[cutoff]
    frame = x["status"].cohort_frame.set_index("label")
    any_row = x["incidence"][x["incidence"]["level"] == "any"].set_index("cohort_label")
    for g in range(1, 6):
        assert frame[f"worst_grade_{g}"].to_dict() == any_row[f"worst_grade_{g}"].to_dict(), g
    assert (frame[[f"worst_grade_{g}" for g in range(1, 6)]].sum(axis=1)
            <= frame["treated"]).all()


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_each_overview_bar_lists_the_subjects_it_counts(numbers, cutoff):
    # the click-through (issue 17): a bar opens the subjects its height counts, no more, no
    # fewer; the truth is each subject's TEAEs as the AE page lists them
    x = numbers[cutoff]
    teaes = x["listing"]
    worst = teaes.groupby("usubjid")["grade"].max()
    fig = charts.overview.worst_grade_by_cohort(x["status"].cohort_frame)
    listed = 0
    for bar in fig.data:
        grade = int(bar.name.removeprefix("Grade "))
        for label, height, (subjects,) in zip(bar.x, bar.y, bar.customdata, strict=True):
            ids = [u for u in subjects.split(";") if u]
            assert len(ids) == height, (label, grade)
            cohort = teaes.loc[teaes["usubjid"].isin(ids), "cohort_label"]
            assert set(cohort) <= {label} and all(worst[u] == grade for u in ids), (label, grade)
            listed += len(ids)
    assert listed == teaes["usubjid"].nunique() > 0  # every subject with a TEAE, once
    month = teaes.dropna(subset=["start_date"]).assign(
        month=lambda f: pd.to_datetime(f["start_date"]).dt.to_period("M").dt.start_time)
    truth = month.groupby(["month", "cohort_label"])["usubjid"].agg(lambda u: sorted(set(u)))
    got = x["by_month"].set_index(["month", "cohort_label"])["subjects"].str.split(";")
    assert got.to_dict() == truth.to_dict()


def test_high_dose_counts_only_its_dosed_women(numbers):
    # the issue: "High dose shows 7 subjects of 6 treated" (a woman in screening and
    # pre-treatment AEs were counted); at the demo cut-off High dose has 6 dosed
    high = numbers[date(2021, 1, 15)]["status"].cohort_frame.set_index("cohort_id").loc["HIGH"]
    assert int(high["treated"]) == 6
    assert sum(int(high[f"worst_grade_{g}"]) for g in range(1, 6)) <= 6
