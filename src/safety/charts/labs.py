"""Labs page charts: values over time by cohort, visit summary, eDISH."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from safety.charts.style import (
    CONTROL_COLOUR,
    GRADE_COLOURS,
    UNGRADED_COLOUR,
    by_cohort,
    inert,
    visit_and_day,
)
from safety.escaping import plotly_text

LAB_GRADE_0_COLOUR = "#ffffff"  # labs page: a normal (grade 0) result is a hollow-looking point,


def _stepped(colours: list[str]) -> list[list]:
    """A colorscale giving value ``cmin + 0.5 + i`` exactly ``colours[i]``."""
    k = len(colours)
    return [[pos, c] for i, c in enumerate(colours) for pos in (i / k, (i + 1) / k)]


# -1 (not graded), 0 .. 5: the marker colour of a result by its worst CTCAE grade
_GRADE_SCALE = _stepped([UNGRADED_COLOUR, LAB_GRADE_0_COLOUR, *GRADE_COLOURS.values()])


WEBGL_ABOVE = 1000  # markers per figure: SVG up to here, WebGL (Scattergl) beyond
# markers per figure: more than a person tells apart in four panels, and what a browser without
# a GPU draws in about a second (8,000 took 2.5 s); beyond, whole subjects are sampled
MAX_POINTS = 3000


def _sampled_subjects(rows: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int, int]:
    """(rows of the subjects kept, subjects kept, subjects in all): subjects by their worst
    grade, highest first, then in a fixed order of a hash of their id, until the figure holds
    ``limit`` results. Whole subjects, so each line stays a subject's course."""
    per_subject = rows.groupby("usubjid", sort=False).agg(
        n=("value", "size"), worst=("worst_grade", "max")
    )
    total = len(per_subject)
    if len(rows) <= limit:
        return rows, total, total
    order = pd.util.hash_array(per_subject.index.to_numpy(dtype=object))
    per_subject = per_subject.assign(worst=per_subject["worst"].fillna(-1), order=order)
    per_subject = per_subject.sort_values(["worst", "order"], ascending=[False, True])
    kept = per_subject.index[per_subject["n"].cumsum() <= limit]
    return rows[rows["usubjid"].isin(kept)], len(kept), total


def _with_gaps(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """x and y of all the group's subjects as one line, a gap (NaN) between subjects."""
    subjects = group["usubjid"].to_numpy()
    breaks = np.flatnonzero(subjects[1:] != subjects[:-1]) + 1
    x = np.insert(group["study_day"].to_numpy(dtype=float), breaks, np.nan)
    y = np.insert(group["value"].to_numpy(dtype=float), breaks, np.nan)
    return x, y


@inert
def lab_time_course(values: pd.DataFrame, test_code: str, unit_note: str = "") -> go.Figure:
    """One test's results over study days, a panel per cohort on one shared time axis: the
    subjects of a cohort as one grey line (a gap between subjects), each result a marker
    coloured by its worst CTCAE grade, the normal range as a shaded band.

    ``values``: ``queries.labs.lab_values`` rows (usubjid, cohort_label, test_code, test_name,
    study_day, value, unit, lln, uln, worst_grade, grade_reason, visit). Points carry the
    subject in ``customdata[0]`` so a selection leads to the patient. The band is the median
    LLN-ULN of the cohort's results (ranges rarely differ within a study). Two traces per
    cohort whatever the number of subjects; WebGL above :data:`WEBGL_ABOVE` markers; above
    :data:`MAX_POINTS` a sample of whole subjects, said on the chart. ``unit_note`` follows
    the unit in the title (the unit it is graded in, when converted).
    """
    rows = values[(values["test_code"] == test_code) & values["value"].notna()]
    rows = rows[rows["study_day"].notna()]
    rows, kept, total = _sampled_subjects(rows, MAX_POINTS)
    rows = rows.sort_values(["usubjid", "study_day"], kind="stable")
    scatter = go.Scattergl if len(rows) > WEBGL_ABOVE else go.Scatter
    cohorts = list(dict.fromkeys(values.loc[values["test_code"] == test_code, "cohort_label"]
                                 .dropna()))  # fmt: skip
    n = max(len(cohorts), 1)
    fig = go.Figure()
    unit = rows["unit"].dropna().iloc[0] if rows["unit"].notna().any() else ""
    name = rows["test_name"].dropna().iloc[0] if rows["test_name"].notna().any() else test_code
    gap = 0.03
    width = (1.0 - gap * (n - 1)) / n
    for i, cohort in enumerate(cohorts):
        axis = "" if i == 0 else str(i + 1)
        xref, yref = f"x{axis}", f"y{axis}"
        domain = [i * (width + gap), i * (width + gap) + width]
        fig.layout[f"xaxis{axis}"] = go.layout.XAxis(
            domain=domain, title="Study day", anchor=yref, zeroline=False,
            matches="x" if i else None,  # one time axis: panels compare at a glance
        )  # fmt: skip
        fig.layout[f"yaxis{axis}"] = go.layout.YAxis(
            anchor=xref, matches="y" if i else None, showticklabels=i == 0
        )
        group = rows[rows["cohort_label"] == cohort]
        lln, uln = group["lln"].median(), group["uln"].median()
        if pd.notna(lln) or pd.notna(uln):
            fig.add_shape(
                type="rect",
                xref=f"{xref} domain",
                yref=yref,
                x0=0,
                x1=1,
                y0=lln if pd.notna(lln) else 0,
                y1=uln if pd.notna(uln) else group["value"].max(),
                fillcolor="rgba(116, 196, 118, 0.18)",
                line_width=0,
                layer="below",
            )
        fig.add_annotation(
            text=f"<b>{plotly_text(cohort)}</b>",
            xref=f"{xref} domain",
            yref="paper",
            x=0.5,
            y=1.06,
            showarrow=False,
            font={"size": 12},
        )
        x, y = _with_gaps(group)
        fig.add_trace(
            scatter(
                x=x,
                y=y,
                mode="lines",
                line={"color": "rgba(120,120,120,0.45)", "width": 1},
                connectgaps=False,
                xaxis=xref,
                yaxis=yref,
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            scatter(
                x=group["study_day"],
                y=group["value"],
                mode="markers",
                name=cohort,
                xaxis=xref,
                yaxis=yref,
                marker={  # a number per point and a stepped scale: thousands validate fast
                    "color": group["worst_grade"].fillna(-1).clip(-1, 5).to_numpy(dtype=float),
                    "colorscale": _GRADE_SCALE, "cmin": -1.5, "cmax": 5.5,
                    "size": 8,
                    "line": {"width": 0.5, "color": "#333"},
                },
                customdata=list(zip(group["usubjid"].astype(str),
                                    visit_and_day(group["visit"], group["study_day"]),
                                    strict=True)),
                text=[
                    "not graded" if pd.isna(g) else f"grade {int(g)}"
                    for g in group["worst_grade"].tolist()
                ],
                hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>"
                f"%{{y}} {plotly_text(unit)}<br>CTCAE %{{text}}<extra></extra>",
                showlegend=False,
            )
        )
    for label, colour in (
        ("grade 0", LAB_GRADE_0_COLOUR),
        *((f"grade {g}", c) for g, c in GRADE_COLOURS.items() if g <= 4),
        ("not graded", UNGRADED_COLOUR),
    ):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=label,
                marker={"color": colour, "size": 9, "line": {"width": 0.5, "color": "#333"}},
                showlegend=True,
            )
        )
    if kept < total:
        fig.add_annotation(
            text=f"Sampled: {kept} of {total} subjects shown (highest CTCAE grades first, "
            "then a fixed sample)",
            xref="paper", yref="paper", x=1, y=1.16, xanchor="right", showarrow=False,
            font={"size": 11, "color": "#b35806"},
        )  # fmt: skip
    shown_unit = plotly_text(unit) + (f"; {plotly_text(unit_note)}" if unit_note else "")
    fig.update_layout(
        title=f"{plotly_text(name)} ({shown_unit}) by cohort: normal range shaded, points by "
        "CTCAE grade",
        yaxis_title=plotly_text(unit),
        height=360,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 80, "b": 40},
    )
    return fig


@inert
def lab_visit_summary(
    summary: pd.DataFrame, colours: dict[str, str], test_code: str, statistic: str = "mean"
) -> go.Figure:
    """Mean (with SD bars) or median (with quartile bars) by cohort over scheduled visits.

    ``summary``: ``queries.labs.lab_visit_summary`` rows (test_code, unit, cohort_label, visit,
    visit_num, n, mean, sd, median, q1, q3).
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f'statistic must be "mean" or "median", got {statistic!r}')
    rows = summary[summary["test_code"] == test_code].sort_values("visit_num")
    visits = list(dict.fromkeys(rows["visit"]))
    fig = go.Figure()
    for cohort, group in by_cohort(rows, colours):
        y = group[statistic]
        if statistic == "mean":
            err = {"type": "data", "array": group["sd"].fillna(0), "visible": True}
        else:
            err = {
                "type": "data",
                "symmetric": False,
                "array": group["q3"] - y,
                "arrayminus": y - group["q1"],
                "visible": True,
            }
        fig.add_trace(
            go.Scatter(
                x=group["visit"],
                y=y,
                mode="lines+markers",
                name=cohort,
                line={"color": colours.get(cohort, CONTROL_COLOUR)},
                error_y=err,
                customdata=group[["n"]].to_numpy(),
                hovertemplate=f"{plotly_text(cohort)}<br>%{{x}}: {statistic} %{{y:.3g}} (n=%{{customdata[0]}})"
                "<extra></extra>",
            )
        )
    unit = rows["unit"].dropna().iloc[0] if rows["unit"].notna().any() else ""
    label = "mean ± SD" if statistic == "mean" else "median (IQR)"
    fig.update_layout(
        title=f"{plotly_text(test_code)}: {label} by cohort over scheduled visits",
        xaxis={"categoryorder": "array", "categoryarray": visits, "title": None},
        yaxis_title=plotly_text(unit),
        height=340,
        legend={"orientation": "h", "y": -0.3},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


@inert
def edish(
    frame: pd.DataFrame,
    colours: dict[str, str],
    alt_threshold: float = 3.0,
    bili_threshold: float = 2.0,
) -> go.Figure:
    """eDISH: peak transaminase x ULN against peak total bilirubin x ULN, log axes, Hy's law lines.

    ``frame``: ``labs.derive_edish`` output (usubjid, cohort_label, transaminase,
    transaminase_x_uln, bili_x_uln, quadrant). Points carry the subject in ``customdata[0]``.

    References
    ----------
    Watkins et al., Hepatology 2011 (eDISH); FDA DILI guidance (2009): Hy's law lines.
    """
    rows = frame.dropna(subset=["transaminase_x_uln", "bili_x_uln"])
    rows = rows[(rows["transaminase_x_uln"] > 0) & (rows["bili_x_uln"] > 0)]
    which = frame["transaminase"].iloc[0] if len(frame) else "ALT"
    fig = go.Figure()
    for cohort, group in by_cohort(rows, colours):
        fig.add_trace(
            go.Scatter(
                x=group["transaminase_x_uln"],
                y=group["bili_x_uln"],
                mode="markers",
                name=cohort,
                marker={
                    "color": colours.get(cohort, CONTROL_COLOUR),
                    "size": 10,
                    "line": {"width": 0.5, "color": "#222"},
                },
                customdata=group[["usubjid", "quadrant"]].astype(str).to_numpy(),
                hovertemplate=f"%{{customdata[0]}}<br>peak {which} %{{x:.2f}} x ULN<br>"
                "peak bilirubin %{y:.2f} x ULN<br>%{customdata[1]}<extra></extra>",
            )
        )
    lo = (
        min(0.1, float(rows[["transaminase_x_uln", "bili_x_uln"]].min().min()) / 1.5)
        if len(rows)
        else 0.1
    )
    hi = max(
        alt_threshold * 10,
        bili_threshold * 10,
        float(rows[["transaminase_x_uln", "bili_x_uln"]].max().max()) * 1.5 if len(rows) else 0,
    )
    fig.add_vline(x=alt_threshold, line_dash="dash", line_color="#b2182b")
    fig.add_hline(y=bili_threshold, line_dash="dash", line_color="#b2182b")
    for text, x, y, xanchor, yanchor in (
        ("Potential Hy's law", hi, hi, "right", "top"),
        ("Temple's corollary", hi, lo, "right", "bottom"),
        ("Hyperbilirubinemia", lo, hi, "left", "top"),
        ("Normal range", lo, lo, "left", "bottom"),
    ):
        fig.add_annotation(
            x=math.log10(x),
            y=math.log10(y),
            text=text,
            showarrow=False,
            xanchor=xanchor,
            yanchor=yanchor,
            font={"size": 11, "color": "#555"},
        )
    ticks = [
        t
        for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500)
        if lo <= t <= hi
    ]
    fig.update_xaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    fig.update_yaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    fig.update_layout(
        title=f"eDISH: peak {which} vs peak total bilirubin (x ULN)",
        xaxis={
            "type": "log",
            "range": [math.log10(lo), math.log10(hi)],
            "title": f"Peak {which} (x ULN)",
        },
        yaxis={
            "type": "log",
            "range": [math.log10(lo), math.log10(hi)],
            "title": "Peak total bilirubin (x ULN)",
        },
        height=480,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig
