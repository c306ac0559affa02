"""Overview charts: dosing timeline, worst AE grade by cohort, AEs over time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from safety.charts.style import (
    CONTROL_COLOUR,
    GRADE_COLOURS,
    SUBJECT_SEPARATOR,
    by_cohort,
    inert,
)
from safety.escaping import plotly_text

# Above this many markers the timeline groups its subjects by week, then by month: a person sees
# no more than this on a 300 px chart, and every SVG marker costs the browser its drawing.
TIMELINE_MAX_MARKERS = 500
# (name in the chart's title, pandas period) from the finest grouping to the coarsest
TIMELINE_PERIODS = (("day", None), ("week", "W-SUN"), ("month", "M"))
LISTED_IN_HOVER = 5  # a marker of several subjects names this many in its tooltip


@inert
def dosing_timeline(subjects: pd.DataFrame, colours: dict[str, str], cutoff) -> go.Figure:
    """Each cohort's first doses on a time axis, one row per cohort: one marker per cohort and
    day (subjects dosed the same day stand on the same spot, so one marker lists them all), by
    week or month when days would make more than :data:`TIMELINE_MAX_MARKERS` markers (the
    title says so). A marker's ``customdata[0]`` holds its subjects (the click-through).

    ``subjects``: usubjid, cohort_label, first_dose_date, status (from
    ``queries.subjects.dosing_timeline``); subjects without a dose are left out of the chart.
    """
    dosed = subjects.dropna(subset=["first_dose_date"])
    marks, period = _dosing_marks(dosed)
    fig = go.Figure()
    when = "dosed %{x|%d %b %Y}" if period == "day" else (
        "dosed in the week of %{x|%d %b %Y}" if period == "week" else "dosed in %{x|%b %Y}")
    for label, group in by_cohort(marks, colours):
        fig.add_trace(
            go.Scatter(
                x=group["first_dose_date"],
                y=[label] * len(group),
                mode="markers",
                name=label,
                marker={
                    "size": 11,
                    "color": colours.get(label, CONTROL_COLOUR),
                    "symbol": "diamond",
                },
                customdata=group[["subjects", "who", "status"]].to_numpy(),
                hovertemplate=f"%{{customdata[1]}}<br>{when}<br>%{{customdata[2]}}<extra></extra>",
            )
        )
    fig.add_vline(x=pd.Timestamp(cutoff), line_dash="dot", line_color="#444")
    fig.add_annotation(  # above the plot area, on white: markers never cover it
        x=pd.Timestamp(cutoff),
        y=1.0,
        yref="paper",
        yanchor="bottom",
        xanchor="right",
        text=f"data cut-off {pd.Timestamp(cutoff):%d %b %Y}",
        showarrow=False,
        bgcolor="rgba(255,255,255,0.9)",
        font={"size": 11},
    )
    fig.update_layout(
        title="Enrolment and dosing by cohort"
        + ("" if period == "day" else f" (one marker per cohort and {period})"),
        xaxis_title="First dose date",
        # the cohort order top to bottom (a category axis starts at the bottom)
        yaxis={"title": None, "categoryorder": "array",
               "categoryarray": [c for c in colours if c in set(dosed["cohort_label"])][::-1]},
        showlegend=False,
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def _dosing_marks(dosed: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per cohort and day (else week, else month: the finest within the marker cap):
    first_dose_date (the period's first day), subjects (``;``-joined), n, and the tooltip's
    words: who (the subject, or how many and the first few) and status (each status's count)."""
    keys = ["cohort_label", "first_dose_date"]
    for period, freq in TIMELINE_PERIODS:
        when = dosed["first_dose_date"]
        if freq is not None:
            when = when.dt.to_period(freq).dt.start_time
        keyed = dosed.assign(first_dose_date=when,
                             status=dosed["status"].fillna("status unknown"))
        groups = keyed.groupby(keys)
        if groups.ngroups <= TIMELINE_MAX_MARKERS or freq == TIMELINE_PERIODS[-1][1]:
            marks = groups["usubjid"].agg([("subjects", SUBJECT_SEPARATOR.join), ("n", "size")])
            counts = keyed.groupby([*keys, "status"]).size()
            said = counts.astype(str) + " " + counts.index.get_level_values("status")
            marks["status"] = said.groupby(level=keys).agg(", ".join)
            one = marks["n"] == 1  # one subject: her status without a count
            marks.loc[one, "status"] = marks.loc[one, "status"].str.removeprefix("1 ")
            marks["who"] = [_who(ids, n) for ids, n in zip(marks["subjects"], marks["n"],
                                                            strict=True)]
            return marks.reset_index(), period
    raise AssertionError("unreachable: the last period always returns")


def _who(subjects: str, n: int) -> str:
    if n == 1:
        return subjects
    named = ", ".join(subjects.split(SUBJECT_SEPARATOR, LISTED_IN_HOVER)[:LISTED_IN_HOVER])
    more = f" and {n - LISTED_IN_HOVER} more" if n > LISTED_IN_HOVER else ""
    return f"{n} subjects: {named}{more}"


@inert
def ae_counts_over_time(counts: pd.DataFrame, colours: dict[str, str], start=None) -> go.Figure:
    """Adverse events by onset month, stacked by cohort; with ``start`` (the study's first
    day) only the study period is plotted and the chart says how many onsets lie before it
    (medical history dated decades earlier would stretch the axis to nothing).

    ``counts``: month, cohort_label, aes, grade3plus and, for the click-through, subjects
    (from ``queries.adverse_events.ae_counts_by_month``; pooled counts have no subjects).
    """
    fig = go.Figure()
    if start is not None:
        before = counts["month"] < pd.Timestamp(start).to_period("M").start_time
        if before.any():
            fig.add_annotation(
                text=f"{int(counts.loc[before, 'aes'].sum())} AEs with onset before "
                f"{pd.Timestamp(start):%b %Y} not plotted (listed below the chart)",
                xref="paper", yref="paper", x=1, y=1.08, xanchor="right", showarrow=False,
                font={"size": 11, "color": "#b35806"},
            )  # fmt: skip
        counts = counts[~before]
    for label, group in by_cohort(counts, colours):
        fig.add_trace(
            go.Bar(
                x=group["month"],
                y=group["aes"],
                name=label,
                marker_color=colours.get(label, CONTROL_COLOUR),
                customdata=_with_subjects(group, ["grade3plus"]),
                hovertemplate=f"{plotly_text(label)}<br>%{{x|%b %Y}}: %{{y}} AEs, %{{customdata[1]}} grade ≥3<extra></extra>",
            )
        )
    fig.update_layout(
        title="Adverse events by onset month",
        barmode="stack",
        xaxis_title="Onset month",
        yaxis_title="Adverse events",
        height=320,
        legend={"orientation": "h", "y": -0.25,
                "traceorder": "normal"},  # the cohort order, not the stack's reverse
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


@inert
def worst_grade_by_cohort(summary: pd.DataFrame) -> go.Figure:
    """Subjects by their worst AE grade, a stacked bar per cohort.

    ``summary``: label, worst_grade_1 .. worst_grade_5 and, for the click-through,
    worst_grade_1_subjects .. (from ``queries.subjects.cohort_summary``; pooled counts have none).
    """
    fig = go.Figure()
    for grade, colour in GRADE_COLOURS.items():
        subjects = summary.get(f"worst_grade_{grade}_subjects")
        fig.add_trace(
            go.Bar(
                x=summary["label"],
                y=summary[f"worst_grade_{grade}"],
                name=f"Grade {grade}",
                marker_color=colour,
                customdata=None if subjects is None else subjects.fillna("").to_numpy()[:, None],
                hovertemplate=f"%{{x}}: %{{y}} subjects with worst grade {grade}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Subjects by worst AE grade (CTCAE)",
        barmode="stack",
        yaxis_title="Subjects",
        height=320,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def _with_subjects(group: pd.DataFrame, columns: list[str]):
    """customdata of a bar standing for several subjects: their ``;``-joined ids first (the
    click-through reads ``customdata[0]``; "" without them), then ``columns``."""
    subjects = group["subjects"].fillna("") if "subjects" in group else [""] * len(group)
    return pd.concat([pd.Series(list(subjects), index=group.index, name="subjects"),
                      group[columns]], axis=1).to_numpy(dtype=object)  # fmt: skip
