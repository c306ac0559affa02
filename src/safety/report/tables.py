"""Every table and figure of a DSMB report, as frames and plotly figures.

One function, :func:`report_content`, builds them all from the same library functions the
pages use (``safety.monitor``, ``safety.clinical``, ``safety.store.queries``), so a number in
the report is the number on the page at the same cut-off and data; the functions after it
shape each table for a reader. About 650 lines in one module: the list of the report's tables
and the shape of each one are read together when the report changes.

Open and closed reports
-----------------------
Following the FDA guidance on data monitoring committees (2006, section 6.5), the **open**
report carries only what the sponsor may see: trial conduct (accrual, exposure, data
timeliness) and safety *pooled over all cohorts*; no table or figure compares cohorts, and there
are no listings of individual events. The **closed** report (committee only) has everything by
cohort: enrolment and exposure, AE summary and SOC/PT incidence, lab worst grades and eDISH, the
SAE and DLT listings, potential Hy's law cases, and every cohort's escalation decision with its
reason and the state of each stopping rule.

Pooling is a sum over cohorts: every subject belongs to exactly one cohort, so subjects with an
event summed over cohorts are the subjects with an event overall.

References
----------
U.S. FDA (2006). Guidance for Clinical Trial Sponsors: Establishment and Operation of Clinical
Trial Data Monitoring Committees, section 6.5 (open and closed reports).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from safety import charts
from safety.clinical import labs, teae
from safety.config import StudyConfig
from safety.monitor import adverse_events
from safety.monitor.status import StudyStatus, study_status
from safety.report.figures import report_theme
from safety.store import queries

log = logging.getLogger(__name__)

Kind = Literal["open", "closed"]
KINDS: tuple[str, ...] = ("open", "closed")
ALL_COHORTS = "All cohorts"  # the one column of a pooled (open) table
POOLED_COLOUR = "#2171b5"

SECTIONS: tuple[str, ...] = (
    "Enrolment and exposure",
    "Adverse events",
    "Listings",
    "Laboratory",
    "Dose escalation",
)


@dataclass(frozen=True)
class ReportTable:
    """One table of the report: its file stem and sheet name (``key``), where it goes, the data.

    ``by_cohort`` marks a table that compares cohorts (closed report only); ``listing`` marks a
    table of individual events or subjects (closed report only).
    """

    key: str
    title: str
    section: str
    frame: pd.DataFrame
    note: str = ""
    by_cohort: bool = False
    listing: bool = False


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: ``key`` names its PNG, the figure is a plotly figure."""

    key: str
    title: str
    section: str
    figure: go.Figure
    by_cohort: bool = False


@dataclass(frozen=True)
class ReportContent:
    """What a report says: the study, the cut-off, the tables and figures in order."""

    study_id: str
    title: str
    registry_id: str | None
    cutoff: date
    kind: Kind
    design_description: str
    dose_note: str | None
    recommendation: str | None  # closed only: the design's recommendation for the next patients
    tables: tuple[ReportTable, ...]
    figures: tuple[ReportFigure, ...]
    notes: dict[str, str] = field(default_factory=dict)

    def table(self, key: str) -> ReportTable:
        """The table with this key (KeyError when the report has none)."""
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)


def report_content(
    con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date, kind: Kind
) -> ReportContent:
    """Every table and figure of the open or closed report of a study at a cut-off.

    Parameters
    ----------
    con
        A connection to the (frozen) study data: :func:`safety.report.snapshot.frozen_database`.
    config
        The study configuration.
    cutoff
        The data cut-off: records dated on or before it count.
    kind
        "open" (pooled, no listings) or "closed" (by cohort, with listings).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    closed = kind == "closed"
    status = study_status(con, config, cutoff)
    timeline = queries.subjects.dosing_timeline(con, config.study_id, cutoff)
    tables: list[ReportTable] = []
    figures: list[ReportFigure] = []

    # --- enrolment and exposure -------------------------------------------------------------
    section = SECTIONS[0]
    tables.append(
        ReportTable(
            "enrolment", "Enrolment and DLT evaluability" if status.escalation else "Enrolment",
            section, enrolment_table(status, pooled=not closed),
            "Enrolled: assigned to a cohort. Treated: first dose on or before the cut-off."
            + (" In DLT window: treated, window still open, no DLT yet." if status.escalation
               else ""),
            by_cohort=closed,
        )
    )  # fmt: skip
    tables.append(
        ReportTable(
            "accrual", "Accrual by month (all cohorts)", section, accrual_table(timeline),
            "Enrolled by consent date and dosed by first dose date, per month and cumulative.",
        )
    )  # fmt: skip
    exposure = queries.report.exposure_summary(con, config.study_id, cutoff)
    tables.append(
        ReportTable(
            "exposure", "Exposure and follow-up", section,
            exposure_table(exposure, config.control_treatment, pooled=not closed),
            "Administrations: dosing records started on or before the cut-off. Follow-up: days "
            "from the first dose to the cut-off or the end of study, whichever is first.",
            by_cohort=closed,
        )
    )  # fmt: skip
    tables.append(
        ReportTable(
            "data_timeliness", "Data timeliness by domain", section,
            timeliness_table(queries.report.data_timeliness(con, config.study_id, cutoff)),
            "Records dated on or before the cut-off; days behind: from the latest such record "
            "to the cut-off.",
        )
    )  # fmt: skip
    colours = charts.style.cohort_colours(status.cohort_frame)
    if closed:
        figures.append(
            ReportFigure(
                "dosing_timeline", "Enrolment and dosing by cohort", section,
                charts.overview.dosing_timeline(timeline, colours, cutoff), by_cohort=True,
            )
        )  # fmt: skip
    else:
        pooled = timeline.assign(cohort_label=ALL_COHORTS)
        figures.append(
            ReportFigure(
                "dosing_timeline", "Dosing over time (all cohorts)", section,
                charts.overview.dosing_timeline(pooled, {ALL_COHORTS: POOLED_COLOUR}, cutoff)
                .update_layout(title="First doses over time (all cohorts)"),
            )
        )  # fmt: skip

    # --- adverse events -----------------------------------------------------------------------
    section = SECTIONS[1]
    summary = adverse_events.ae_summary(con, config, cutoff)
    incidence = adverse_events.soc_pt_incidence(con, config, cutoff)
    if not closed:
        summary, incidence = pool_ae_summary(summary), pool_incidence(incidence)
    tables.append(
        ReportTable(
            "ae_summary", "Treatment-emergent adverse events: summary", section,
            teae.summary_table(summary).drop(columns="category"),
            "n (%) of subjects dosed by the cut-off with at least one such TEAE.",
            by_cohort=closed,
        )
    )  # fmt: skip
    tables.append(
        ReportTable(
            "ae_soc", "TEAEs by system organ class", section,
            incidence_table(incidence, "soc", pooled=not closed),
            "Subjects with at least one TEAE in the SOC, n (%); sorted by frequency.",
            by_cohort=closed,
        )
    )  # fmt: skip
    tables.append(
        ReportTable(
            "ae_pt", "TEAEs by system organ class and preferred term", section,
            incidence_table(incidence, "pt", pooled=not closed),
            "Subjects with at least one TEAE with the PT, n (%).",
            by_cohort=closed,
        )
    )  # fmt: skip
    tables.append(
        ReportTable(
            "ae_worst_grade", "Subjects by worst TEAE grade (CTCAE)", section,
            teae.worst_grade_table(incidence),
            "Each subject counted once, at the worst grade of any TEAE.",
            by_cohort=closed,
        )
    )  # fmt: skip
    deaths = adverse_events.deaths(con, config, cutoff)
    tables.append(
        ReportTable(
            "deaths", "Deaths", section,
            teae.deaths_table(deaths, adverse_events.ae_summary(con, config, cutoff),
                              pooled=not closed),
            "Subjects of the safety analysis set who died by the cut-off, n (%) of N: death date "
            "from DM.DTHDTC or DS DEATH, else a fatal adverse event (AEOUT FATAL, AESDTH Y or "
            "grade 5).",
            by_cohort=closed,
        )
    )  # fmt: skip
    counts = queries.adverse_events.ae_counts_by_month(con, config.study_id, cutoff)
    if closed:
        figures.append(
            ReportFigure(
                "worst_grade", "Subjects by worst AE grade, by cohort", section,
                charts.overview.worst_grade_by_cohort(status.cohort_frame), by_cohort=True,
            )
        )  # fmt: skip
        figures.append(
            ReportFigure(
                "ae_over_time", "Adverse events by onset month and cohort", section,
                charts.overview.ae_counts_over_time(counts, colours), by_cohort=True,
            )
        )  # fmt: skip
    else:
        figures.append(
            ReportFigure(
                "worst_grade", "Subjects by worst AE grade (all cohorts)", section,
                charts.overview.worst_grade_by_cohort(pool_cohort_frame(status.cohort_frame)),
            )
        )  # fmt: skip
        figures.append(
            ReportFigure(
                "ae_over_time", "Adverse events by onset month (all cohorts)", section,
                charts.overview.ae_counts_over_time(pool_month_counts(counts),
                                           {ALL_COHORTS: POOLED_COLOUR}),
            )
        )  # fmt: skip

    # --- listings (closed) ------------------------------------------------------------------------
    if closed:
        section = SECTIONS[2]
        tables.append(
            ReportTable(
                "sae_listing", "Listing: serious TEAEs", section,
                sae_listing(adverse_events.ae_listing(con, config, cutoff, category="serious"),
                            with_dlt=config.is_escalation),
                "Every serious treatment-emergent AE up to the cut-off.",
                by_cohort=True, listing=True,
            )
        )  # fmt: skip
        tables.append(
            ReportTable(
                "deaths_listing", "Listing: deaths", section, teae.deaths_listing(deaths),
                "Every death in the safety analysis set up to the cut-off, with its fatal AEs.",
                by_cohort=True, listing=True,
            )
        )  # fmt: skip
        tables.append(
            ReportTable(
                "ae_data_quality", "Listing: records that contradict themselves or the sponsor's ADaM derivations",
                section, adverse_events.data_quality(con, config, cutoff),
                "Kept as delivered; counted as the last column says (serious when any "
                "seriousness criterion is Y; fatal when AEOUT or AESDTH says so); a sponsor's "
                "TRTEMFL, ATOXGR or SAFFL that differs from our rule is listed beside ours.",
                by_cohort=True, listing=True,
            )
        )  # fmt: skip
    if closed and config.is_escalation:  # no DLT definition: no DLT listing
        dlts = queries.dlt.dlt_events(con, config.study_id, cutoff)
        tables.append(
            ReportTable(
                "dlt_listing", "Listing: DLT candidates and adjudicated DLTs", section,
                dlt_listing(dlts, status),
                "Status: candidate (by the protocol rule), confirmed, rejected or added by "
                "adjudication; rejected candidates do not count as DLTs.",
                by_cohort=True, listing=True,
            )
        )  # fmt: skip

    # --- laboratory ---------------------------------------------------------------------------
    section = SECTIONS[3]
    codes = queries.labs.lab_tests(con, config.study_id, cutoff)["test_code"].tolist()
    grades = queries.labs.lab_subject_grades(con, config.study_id, cutoff, codes)
    if not closed:
        grades = grades.assign(cohort_label=ALL_COHORTS)
    tables.append(
        ReportTable(
            "lab_worst_grade", "Labs: subjects by worst post-baseline CTCAE grade", section,
            lab_worst_grade_table(grades),
            "CTCAE v5.0; N = subjects with a graded post-baseline result for the term. "
            + labs.inr_assumption(config.labs),
            by_cohort=closed,
        )
    )  # fmt: skip
    edish = labs.derive_edish(queries.labs.lab_liver_peaks(con, config.study_id, cutoff))
    if not closed:
        edish = edish.assign(cohort_label=ALL_COHORTS)
    tables.append(
        ReportTable(
            "edish_quadrants", "eDISH: subjects per quadrant", section,
            edish_table(edish, pooled=not closed),
            "Peak post-baseline ALT and total bilirubin as multiples of ULN; lines at 3 x and "
            "2 x ULN (FDA DILI guidance, 2009).",
            by_cohort=closed,
        )
    )  # fmt: skip
    figures.append(
        ReportFigure(
            "edish", "eDISH" + ("" if closed else " (all cohorts)"), section,
            charts.labs.edish(edish, colours if closed else {ALL_COHORTS: POOLED_COLOUR}),
            by_cohort=closed,
        )
    )  # fmt: skip
    if closed:
        tables.append(
            ReportTable(
                "hys_law", "Listing: potential Hy's law cases", section,
                hys_law_listing(labs.hys_law_candidates(edish)),
                "Peak ALT >= 3 x ULN and peak total bilirubin >= 2 x ULN after the first dose; "
                "cholestatic: peak ALP >= 2 x ULN (not Hy's law by definition).",
                by_cohort=True, listing=True,
            )
        )  # fmt: skip

    # --- dose escalation (closed; an escalation study only) ----------------------------------------
    if closed and config.is_escalation:
        section = SECTIONS[4]
        tables.append(
            ReportTable(
                "escalation", "Escalation decision per cohort, with its reason", section,
                escalation_table(status),
                f"Evaluable history (Brock's notation): {status.outcomes or 'none yet'}.",
                by_cohort=True,
            )
        )  # fmt: skip
        tables.append(
            ReportTable(
                "stopping_rules", "Stopping rules: state per cohort and for the study", section,
                rule_states_table(status), by_cohort=True,
            )
        )  # fmt: skip

    recommendation = (
        f"{status.decision_label}"
        + (f" (dose level {status.recommended_dose_level})"
           if status.recommended_dose_level is not None else "")
        + f": {status.recommendation_reason}"
    ) if closed and config.is_escalation else None  # fmt: skip
    return ReportContent(
        study_id=config.study_id,
        title=config.title,
        registry_id=config.registry_id,
        cutoff=cutoff,
        kind=kind,
        design_description=status.design_description.replace("**", ""),
        dose_note=config.dose_note if config.doses_illustrative else None,
        recommendation=recommendation,
        tables=tuple(tables),
        # one theme in every process (page, command line): same files, same content hash
        figures=tuple(replace(f, figure=report_theme(f.figure)) for f in figures),
    )


# --- table builders: frames in, frames out ---------------------------------------------------


def enrolment_table(status: StudyStatus, pooled: bool = False) -> pd.DataFrame:
    """Per cohort (or pooled): planned, enrolled, treated, in the DLT window, evaluable."""
    frame = status.cohort_frame
    table = pd.DataFrame(
        {
            "Cohort": frame["label"],
            "Dose": frame["dose_text"],
            "Planned": frame["planned_subjects"].astype("Int64"),
            "Enrolled": frame["subjects"].astype("int64"),
            "Treated": frame["treated"].astype("int64"),
            "In DLT window": frame["in_dlt_window"].astype("int64"),
            "Evaluable": frame["evaluable"].astype("int64"),
            "Not evaluable": frame["not_evaluable"].astype("int64"),
        }
    )
    if not status.escalation:
        table = table.drop(columns=["In DLT window", "Evaluable", "Not evaluable"])
    if not pooled:
        return table
    totals = table.drop(columns=["Cohort", "Dose", "In DLT window", "Evaluable",
                                 "Not evaluable"], errors="ignore").sum()  # fmt: skip
    return pd.DataFrame([{"Cohort": ALL_COHORTS, **totals.astype("int64").to_dict()}])


def accrual_table(timeline: pd.DataFrame) -> pd.DataFrame:
    """Subjects enrolled (consent) and dosed (first dose) per month, with running totals.

    ``timeline``: ``queries.subjects.dosing_timeline`` (enrolled_date, first_dose_date per subject).
    """
    enrolled = pd.to_datetime(timeline["enrolled_date"]).dt.to_period("M").value_counts()
    dosed = pd.to_datetime(timeline["first_dose_date"]).dt.to_period("M").value_counts()
    months = enrolled.index.union(dosed.index)
    if len(months) == 0:
        return pd.DataFrame(columns=["Month", "Enrolled", "Dosed", "Enrolled (cumulative)",
                                     "Dosed (cumulative)"])  # fmt: skip
    span = pd.period_range(months.min(), months.max(), freq="M")
    table = pd.DataFrame(
        {
            "Month": [str(m) for m in span],
            "Enrolled": enrolled.reindex(span, fill_value=0).to_numpy(dtype="int64"),
            "Dosed": dosed.reindex(span, fill_value=0).to_numpy(dtype="int64"),
        }
    )
    table["Enrolled (cumulative)"] = table["Enrolled"].cumsum()
    table["Dosed (cumulative)"] = table["Dosed"].cumsum()
    return table


def exposure_table(exposure: pd.DataFrame, control: str, pooled: bool = False) -> pd.DataFrame:
    """Exposure per cohort (``queries.report.exposure_summary``), or pooled without the dose total
    (doses of different cohorts don't add up)."""
    table = pd.DataFrame(
        {
            "Cohort": exposure["cohort_label"],
            "Subjects dosed": exposure["subjects_dosed"].astype("int64"),
            "Administrations": exposure["administrations"].astype("int64"),
            # the cohort's sum over its subjects, beside the dose one subject received
            "Dose per subject (mean)": [
                control if is_control else "" if pd.isna(d) or not n
                else f"{d / n:g} {u if isinstance(u, str) else ''}".strip()
                for d, u, is_control, n in zip(exposure["total_dose"], exposure["dose_unit"],
                                            exposure["is_control"], exposure["subjects_dosed"],
                                            strict=True)
            ],
            "Total dose, all subjects of the cohort": [
                control if is_control else "" if pd.isna(d)
                else f"{d:g} {u if isinstance(u, str) else ''}".strip()
                for d, u, is_control in zip(exposure["total_dose"], exposure["dose_unit"],
                                         exposure["is_control"], strict=True)
            ],
            "First dose": _dates(exposure["first_dose_date"]),
            "Last dose": _dates(exposure["last_dose_date"]),
            "Follow-up (subject-days)": exposure["follow_up_days"].astype("int64"),
        }
    )
    if pooled:
        first = pd.to_datetime(exposure["first_dose_date"]).min()
        last = pd.to_datetime(exposure["last_dose_date"]).max()
        table = pd.DataFrame(
            [
                {
                    "Cohort": ALL_COHORTS,
                    "Subjects dosed": int(table["Subjects dosed"].sum()),
                    "Administrations": int(table["Administrations"].sum()),
                    "First dose": "" if pd.isna(first) else f"{first:%Y-%m-%d}",
                    "Last dose": "" if pd.isna(last) else f"{last:%Y-%m-%d}",
                    "Follow-up (subject-days)": int(table["Follow-up (subject-days)"].sum()),
                }
            ]
        )
    dosed = table["Subjects dosed"].where(table["Subjects dosed"] > 0)
    table["Mean follow-up (days)"] = (
        (table["Follow-up (subject-days)"] / dosed).round(1).map(_number)
    )
    return table


def timeliness_table(timeliness: pd.DataFrame) -> pd.DataFrame:
    """``queries.report.data_timeliness`` with readable headers."""
    return pd.DataFrame(
        {
            "Domain": timeliness["domain"],
            "Records up to cut-off": timeliness["records"].astype("int64"),
            "Undated": timeliness["undated"].astype("int64"),
            "Latest record": _dates(timeliness["latest_record"]),
            "Days behind cut-off": timeliness["days_behind"].astype("Int64"),
            "Deliveries": timeliness["deliveries"].astype("int64"),
            "Last delivery (UTC)": [
                "" if pd.isna(t) else f"{pd.Timestamp(t):%Y-%m-%d %H:%M}"
                for t in timeliness["last_loaded_at"]
            ],
            "Rows quarantined": timeliness["rows_quarantined"].astype("int64"),
        }
    )


def pool_ae_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """``adverse_events.ae_summary`` pooled over cohorts: one cohort ``All cohorts`` per category."""
    pooled = summary.groupby(["category", "label"], sort=False, as_index=False)[
        ["N", "n", "events"]
    ].sum()
    pooled = pooled.assign(cohort_id="ALL", cohort_label=ALL_COHORTS, is_control=False,
                           dose_level=pd.NA)  # fmt: skip
    pooled["pct"] = 100 * pooled["n"] / pooled["N"].where(pooled["N"] > 0)
    return pooled[summary.columns]


def pool_incidence(incidence: pd.DataFrame) -> pd.DataFrame:
    """``adverse_events.soc_pt_incidence`` pooled over cohorts (N = all subjects dosed)."""
    total_n = int(incidence.loc[incidence["level"] == "any"].drop_duplicates("cohort_id")["N"].sum())
    counts = ["n", "events", *[f"worst_grade_{g}" for g in range(1, 6)]]
    pooled = incidence.groupby(["level", "soc", "pt"], sort=False, dropna=False, as_index=False)[
        counts
    ].sum()
    pooled = pooled.assign(
        cohort_id="ALL", cohort_label=ALL_COHORTS, is_control=False, dose_level=pd.NA, N=total_n
    )
    pooled["total_n"] = pooled["n"]
    pooled["pct"] = 100 * pooled["n"] / (total_n if total_n > 0 else np.nan)
    return pooled


def pool_cohort_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``queries.subjects.cohort_summary`` worst-grade counts summed into one ``All cohorts`` row."""
    grades = [f"worst_grade_{g}" for g in range(1, 6)]
    return pd.DataFrame([{"label": ALL_COHORTS, **frame[grades].sum().astype("int64").to_dict()}])


def pool_month_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """``queries.adverse_events.ae_counts_by_month`` summed over cohorts."""
    pooled = counts.groupby("month", as_index=False)[["aes", "grade3plus", "serious"]].sum()
    return pooled.assign(cohort_label=ALL_COHORTS)


def sae_listing(events: pd.DataFrame, with_dlt: bool = True) -> pd.DataFrame:
    """Serious TEAEs (``adverse_events.ae_listing``) with readable headers, by cohort and subject
    (without the DLT column for a study that has no DLT definition)."""
    events = events.sort_values(["cohort_label", "usubjid", "seq"], kind="stable")
    listing = pd.DataFrame(
        {
            "Cohort": events["cohort_label"],
            "Subject": events["usubjid"],
            "Seq": events["seq"].astype("Int64"),
            "Preferred term": events["pt"],
            "System organ class": events["soc"],
            "Onset": events["start_dtc"].fillna("unknown"),
            "Study day": events["study_day"].astype("Int64"),
            "Grade": events["grade"].astype("Int64"),
            "Related": events["related"].map({True: "yes", False: "no"}),
            "DLT": events["is_dlt"].map({True: "yes", False: "no"}),
            "Outcome": events["outcome"],
            "Action taken": events["action_taken"],
        }
    ).reset_index(drop=True)
    return listing if with_dlt else listing.drop(columns="DLT")


def dlt_listing(dlts: pd.DataFrame, status: StudyStatus) -> pd.DataFrame:
    """DLT events (``queries.dlt.dlt_events``) with the cohort label and the adjudication."""
    labels = {c.cohort_id: c.label for c in status.cohorts}
    return pd.DataFrame(
        {
            "Cohort": dlts["cohort_id"].map(labels),
            "Subject": dlts["usubjid"],
            "Source": dlts["source"],
            "Event": dlts["term"],
            "Onset": _dates(dlts["onset_date"]),
            "Day": dlts["onset_day"].astype("Int64"),
            "Grade": dlts["grade"].astype("Int64"),
            "Status": dlts["dlt_status"],
            "Rule": dlts["dlt_rule"],
            "Adjudication": dlts["adjudication_reason"],
            "Decided by": dlts["decided_by"],
        }
    ).reset_index(drop=True)


def incidence_table(
    incidence: pd.DataFrame, level: Literal["soc", "pt"], pooled: bool = False
) -> pd.DataFrame:
    """``teae.incidence_table`` with readable headers; pooled without the (same) Total."""
    table = teae.incidence_table(incidence, level).rename(
        columns={"soc": "System organ class", "pt": "Preferred term"}
    )
    return table.drop(columns="Total") if pooled else table


def edish_table(edish: pd.DataFrame, pooled: bool = False) -> pd.DataFrame:
    """``labs.edish_quadrant_counts`` with a readable header; pooled without the (same) Total."""
    table = labs.edish_quadrant_counts(edish).rename(columns={"quadrant": "Quadrant"})
    return table.drop(columns="Total") if pooled else table


def lab_worst_grade_table(grades: pd.DataFrame) -> pd.DataFrame:
    """``labs.worst_grade_table`` with readable headers."""
    worst = labs.worst_grade_table(grades)
    return worst[
        ["term", "cohort_label", "N", "grade_1", "grade_2", "grade_3", "grade_4", "grade_3_4"]
    ].rename(
        columns={
            "term": "CTCAE term", "cohort_label": "Cohort", "grade_1": "Grade 1",
            "grade_2": "Grade 2", "grade_3": "Grade 3", "grade_4": "Grade 4",
            "grade_3_4": "Grade 3-4",
        }  # fmt: skip
    )


def hys_law_listing(candidates: pd.DataFrame) -> pd.DataFrame:
    """Potential Hy's law cases (``labs.hys_law_candidates``) with readable headers."""
    return pd.DataFrame(
        {
            "Cohort": candidates["cohort_label"],
            "Subject": candidates["usubjid"],
            "Peak ALT x ULN": candidates["transaminase_x_uln"].round(2),
            "Peak bilirubin x ULN": candidates["bili_x_uln"].round(2),
            "Peak ALP x ULN": candidates["alp_x_uln"].round(2),
            "Cholestatic": candidates["cholestatic"].map({True: "yes", False: "no"}),
        }
    ).reset_index(drop=True)


def escalation_table(status: StudyStatus) -> pd.DataFrame:
    """Every cohort's counts and the design's decision with its reason (``safety.monitor.status``)."""
    return pd.DataFrame(
        [
            {
                "Cohort": c.label,
                "Treated (N)": c.treated,
                "In DLT window": c.in_dlt_window,
                "Evaluable": c.evaluable,
                "Not evaluable": c.not_evaluable,
                "With DLT": c.dlts,
                "With SAE": c.saes,
                "Deaths": c.deaths,
                "At this dose the design would say": c.decision_label,
                "Reason": c.reason,
            }
            for c in status.cohorts
        ]
    )


def rule_states_table(status: StudyStatus) -> pd.DataFrame:
    """Each stopping rule's state: for the study (the recommendation) and per cohort."""
    rows = [
        {"Scope": "Study", "Rule": r.name, "State": r.state, "Detail": r.detail}
        for r in status.rules
    ]
    rows += [
        {"Scope": c.label, "Rule": r.name, "State": r.state, "Detail": r.detail}
        for c in status.cohorts
        for r in c.rules
    ]
    return pd.DataFrame(rows, columns=["Scope", "Rule", "State", "Detail"])


# --- formatting --------------------------------------------------------------------------------


def _dates(values: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}" for v in values]


def _number(value) -> str:
    return "" if pd.isna(value) else f"{value:g}"


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text, for the PDF and HTML: missing -> "", floats without trailing zeros,
    booleans yes/no, dates as YYYY-MM-DD."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            text = col.map({True: "yes", False: "no"})
        elif pd.api.types.is_datetime64_any_dtype(col):
            text = pd.Series(_dates(col), index=col.index)
        elif pd.api.types.is_float_dtype(col):
            text = col.map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
        else:
            text = col.astype(str)
        out[str(name)] = text.astype(str).fillna("").replace({"<NA>": "", "nan": "", "None": ""})
    return pd.DataFrame(out, index=frame.index)
