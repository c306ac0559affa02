"""Plotly figure builders: a frame in, a figure out. No database, no streamlit, no file I/O."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

# CTCAE grade colours, mild to fatal, used on every chart that shows a grade.
GRADE_COLOURS = {1: "#9ecae1", 2: "#fdd0a2", 3: "#fd8d3c", 4: "#d94801", 5: "#67000d"}
CONTROL_COLOUR = "#7f7f7f"
DOSE_COLOURS = ("#6baed6", "#2171b5", "#08306b", "#4a1486", "#807dba", "#54278f")


def cohort_colours(cohorts: pd.DataFrame) -> dict[str, str]:
    """A colour per cohort label: grey for control, darker blues for higher doses.

    ``cohorts`` needs columns label, is_control, dose_level.
    """
    colours = {}
    for row in cohorts.itertuples():  # one row per cohort: a handful
        colours[row.label] = (
            CONTROL_COLOUR
            if row.is_control
            else DOSE_COLOURS[(int(row.dose_level) - 1) % len(DOSE_COLOURS)]
        )
    return colours


def dosing_timeline(subjects: pd.DataFrame, colours: dict[str, str], cutoff) -> go.Figure:
    """Each subject's first dose as a point on a time axis, one row per cohort.

    ``subjects``: usubjid, cohort_label, first_dose_date, status (from ``queries.dosing_timeline``);
    subjects without a dose are left out of the chart.
    """
    dosed = subjects.dropna(subset=["first_dose_date"])
    fig = go.Figure()
    for label, group in dosed.groupby("cohort_label", sort=False):
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
                customdata=group[["usubjid", "status"]].to_numpy(),
                hovertemplate="%{customdata[0]}<br>dosed %{x|%d %b %Y}<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.add_vline(x=pd.Timestamp(cutoff), line_dash="dot", line_color="#444")
    fig.add_annotation(
        x=pd.Timestamp(cutoff),
        y=1.02,
        yref="paper",
        text="data cut-off",
        showarrow=False,
        font={"size": 11},
    )
    fig.update_layout(
        title="Enrolment and dosing by cohort",
        xaxis_title="First dose date",
        yaxis_title=None,
        showlegend=False,
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def ae_counts_over_time(counts: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Adverse events by onset month, stacked by cohort.

    ``counts``: month, cohort_label, aes, grade3plus (from ``queries.ae_counts_by_month``).
    """
    fig = go.Figure()
    for label, group in counts.groupby("cohort_label", sort=False):
        fig.add_trace(
            go.Bar(
                x=group["month"],
                y=group["aes"],
                name=label,
                marker_color=colours.get(label, CONTROL_COLOUR),
                customdata=group[["grade3plus"]].to_numpy(),
                hovertemplate=f"{label}<br>%{{x|%b %Y}}: %{{y}} AEs, %{{customdata[0]}} grade ≥3<extra></extra>",
            )
        )
    fig.update_layout(
        title="Adverse events by onset month",
        barmode="stack",
        xaxis_title="Onset month",
        yaxis_title="Adverse events",
        height=320,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def worst_grade_by_cohort(summary: pd.DataFrame) -> go.Figure:
    """Subjects by their worst AE grade, a stacked bar per cohort.

    ``summary``: label, worst_grade_1 .. worst_grade_5 (from ``queries.cohort_summary``).
    """
    fig = go.Figure()
    for grade, colour in GRADE_COLOURS.items():
        fig.add_trace(
            go.Bar(
                x=summary["label"],
                y=summary[f"worst_grade_{grade}"],
                name=f"Grade {grade}",
                marker_color=colour,
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


# --- dose escalation ---------------------------------------------------------------------------

DECISION_COLOURS = {
    "escalate": "#2171b5",
    "stay": "#7f7f7f",
    "de-escalate": "#fd8d3c",
    "eliminate": "#d94801",
    "stop": "#67000d",
    "none": "#bdbdbd",
}
TARGET_COLOUR = "#cb181d"


def dlt_window_clock(clock: pd.DataFrame, window_days: int) -> go.Figure:
    """Each pending patient's DLT window as a bar: days gone (filled) out of the window.

    ``clock``: cohort, usubjid, day, days_left, window_end (from
    ``escalation_review.dlt_clock``).
    """
    fig = go.Figure()
    names = clock["cohort"] + " · " + clock["usubjid"]
    fig.add_trace(
        go.Bar(
            y=names,
            x=[window_days] * len(clock),
            orientation="h",
            marker_color="#eeeeee",
            name="window",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Bar(
            y=names,
            x=clock["day"],
            orientation="h",
            marker_color="#fd8d3c",
            name="days gone",
            text=[
                f"day {d} of {window_days} · {left} d left (ends {end:%d %b})"
                for d, left, end in zip(
                    clock["day"], clock["days_left"], clock["window_end"], strict=True
                )
            ],
            textposition="inside",
            insidetextanchor="start",
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="DLT windows still open",
        barmode="overlay",
        xaxis={"title": "Day of the DLT window", "range": [0, window_days]},
        yaxis={"autorange": "reversed"},
        showlegend=False,
        height=120 + 40 * len(clock),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def toxicity_estimates(estimates: pd.DataFrame, target: float, labels: list[str]) -> go.Figure:
    """Estimated DLT rate by dose with intervals (BOIN isotonic, CRM posterior) and the target.

    ``estimates``: dose_level, n, dlts, observed, boin, boin_lower, boin_upper, crm, crm_lower,
    crm_upper (from ``escalation_review.toxicity_estimates``); ``labels``: one per dose level.
    """
    x = list(range(1, len(labels) + 1))
    fig = go.Figure()
    series = (
        ("BOIN (isotonic, Beta posterior 95% interval)", "boin", -0.12, "#2171b5"),
        ("CRM (posterior mean, 95% interval)", "crm", 0.12, "#6a51a3"),
    )
    for name, col, shift, colour in series:
        est = estimates[col]
        fig.add_trace(
            go.Scatter(
                x=[v + shift for v in x],
                y=est,
                mode="markers+lines",
                name=name,
                marker={"size": 10, "color": colour},
                line={"color": colour, "dash": "dot"},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": estimates[f"{col}_upper"] - est,
                    "arrayminus": est - estimates[f"{col}_lower"],
                    "color": colour,
                },
                customdata=estimates[["n", "dlts", f"{col}_lower", f"{col}_upper"]].to_numpy(),
                hovertemplate=(
                    f"{name.split(' (')[0]}: %{{y:.2f}} (%{{customdata[2]:.2f}}–"
                    "%{customdata[3]:.2f})<br>%{customdata[1]} DLTs in %{customdata[0]}"
                    "<extra></extra>"
                ),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=estimates["observed"],
            mode="markers",
            name="observed DLTs / n",
            marker={"symbol": "x", "size": 10, "color": "#252525"},
            hovertemplate="observed %{y:.2f}<extra></extra>",
        )
    )
    fig.add_hline(y=target, line_dash="dash", line_color=TARGET_COLOUR)
    fig.add_annotation(
        x=1,
        xref="paper",
        xanchor="right",
        y=target,
        yanchor="bottom",
        text=f"target {target:g}",
        showarrow=False,
        font={"color": TARGET_COLOUR, "size": 11},
    )
    fig.update_layout(
        title="Estimated DLT rate by dose",
        xaxis={"tickvals": x, "ticktext": labels, "title": None},
        yaxis={"title": "DLT rate", "range": [0, 1]},
        height=380,
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def dose_paths(paths: pd.DataFrame) -> go.Figure:
    """The dose-path tree as a sunburst: the centre is now, each ring one more cohort.

    ``paths``: id, parent_id, label, decision, path, reason (from
    ``escalation_review.dose_path_frame``).
    """
    ids = paths["id"].astype(int).astype(str)
    parents = paths["parent_id"].map(lambda p: "" if pd.isna(p) else str(int(p)))
    fig = go.Figure(
        go.Sunburst(
            ids=ids,
            parents=parents,
            labels=paths["label"],
            marker={"colors": paths["decision"].map(DECISION_COLOURS).fillna("#bdbdbd")},
            customdata=paths[["path", "reason"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            insidetextorientation="radial",
            textfont={"color": "white"},
        )
    )
    fig.update_layout(
        title="Dose paths: the decision after each possible result",
        height=520,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def decision_history(history: pd.DataFrame) -> go.Figure:
    """The recommended next dose level on every day the data changed, coloured by decision.

    ``history``: day, dose_level, decision, events, reason (from ``status.decision_history``).
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=history["day"],
            y=history["dose_level"],
            mode="lines",
            line={"shape": "hv", "color": "#bdbdbd"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for decision, group in history.groupby("decision", sort=False):
        fig.add_trace(
            go.Scatter(
                x=group["day"],
                y=group["dose_level"].fillna(0),
                mode="markers",
                name=decision,
                marker={"size": 9, "color": DECISION_COLOURS.get(decision, "#bdbdbd")},
                customdata=group[["events", "reason"]].to_numpy(),
                hovertemplate="%{x|%d %b %Y}: next dose level %{y}<br>%{customdata[0]}"
                "<br>%{customdata[1]}<extra></extra>",
            )
        )
    top = int(history["dose_level"].max()) if history["dose_level"].notna().any() else 1
    fig.update_layout(
        title="Recommended next dose level over time",
        xaxis_title=None,
        yaxis={
            "title": "Dose level",
            "tickvals": list(range(0, top + 1)),
            "range": [-0.3, top + 0.5],
        },
        height=320,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


# --- adverse events (frames from safety.teae) ----------------------------------------------------
# Every point carries customdata whose first fields identify what it stands for (cohort_id, and
# soc/pt, or the subjects, or the week and grade), so a page can list the events behind a click.

AE_SIGNIFICANCE = 0.05  # reference line on the volcano plot: Fisher p = 0.05 (not a decision rule)


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def ae_incidence_bars(
    rows: pd.DataFrame, colours: dict[str, str], top: int = 15, title: str | None = None
) -> go.Figure:
    """Subjects with a TEAE (% of N) per term, a horizontal bar per cohort, most frequent on top.

    ``rows``: one level of ``teae.soc_pt_incidence`` (level 'soc' or 'pt': soc, pt,
    cohort_label, cohort_id, n, N, pct, total_n). customdata: cohort_id, soc, pt, n, N.
    """
    level = rows["level"].iloc[0] if len(rows) else "pt"
    term = "pt" if level == "pt" else "soc"
    terms = rows.drop_duplicates(["soc", "pt"]).nlargest(top, "total_n", keep="first")
    shown = rows.merge(terms[["soc", "pt"]], on=["soc", "pt"])
    order = [_short(t) for t in terms[term]][::-1]  # most frequent at the top
    fig = go.Figure()
    for label, group in shown.groupby("cohort_label", sort=False):
        fig.add_trace(
            go.Bar(
                y=[_short(t) for t in group[term]],
                x=group["pct"].fillna(0),
                orientation="h",
                name=label,
                marker_color=colours.get(label, CONTROL_COLOUR),
                customdata=group[["cohort_id", "soc", "pt", "n", "N"]].astype(object).to_numpy(),
                hovertemplate=(
                    f"{label}<br>%{{customdata[{2 if term == 'pt' else 1}]}}<br>"
                    "%{customdata[3]} of %{customdata[4]} subjects (%{x:.1f}%)<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=title
        or f"Subjects with a TEAE, {len(terms)} most frequent "
        + ("preferred terms" if term == "pt" else "system organ classes"),
        barmode="group",
        xaxis_title="Subjects (% of N)",
        yaxis={"categoryorder": "array", "categoryarray": order, "title": None},
        height=max(320, 60 + 22 * len(terms) * max(1, shown["cohort_id"].nunique()) // 2),
        legend={"orientation": "h", "y": -0.12},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def _rd_customdata(group: pd.DataFrame):
    return (
        group[
            [
                "cohort_id",
                "soc",
                "pt",
                "n",
                "N",
                "control_n",
                "control_N",
                "fisher_p",
                "rd_lower",
                "rd_upper",
            ]
        ]
        .astype(object)
        .to_numpy()
    )


_RD_HOVER = (
    "%{customdata[2]}<br>%{fullData.name}: %{customdata[3]}/%{customdata[4]} vs control "
    "%{customdata[5]}/%{customdata[6]}<br>risk difference %{x:.1f} points "
    "(95% CI %{customdata[8]:.1f} to %{customdata[9]:.1f})<br>Fisher p = %{customdata[7]:.3g}"
    "<extra></extra>"
)


def risk_difference_forest(rd: pd.DataFrame, colours: dict[str, str], top: int = 20) -> go.Figure:
    """Forest plot: risk difference (dose minus control, percentage points) per PT with its CI.

    ``rd``: ``teae.risk_differences`` (pt, cohort_label, rd, rd_lower, rd_upper, total_n, ...);
    the ``top`` most frequent terms. customdata: cohort_id, soc, pt, n, N, control_n,
    control_N, fisher_p, rd_lower, rd_upper.
    """
    terms = rd.drop_duplicates(["soc", "pt"]).head(top)  # rd comes sorted by frequency
    shown = rd.merge(terms[["soc", "pt"]], on=["soc", "pt"])
    order = [_short(t) for t in terms["pt"]][::-1]
    fig = go.Figure()
    for label, group in shown.groupby("cohort_label", sort=False):
        fig.add_trace(
            go.Scatter(
                x=group["rd"],
                y=[_short(t) for t in group["pt"]],
                mode="markers",
                name=label,
                marker={"color": colours.get(label, CONTROL_COLOUR), "size": 9, "symbol": "square"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": group["rd_upper"] - group["rd"],
                    "arrayminus": group["rd"] - group["rd_lower"],
                    "thickness": 1.5,
                    "width": 3,
                },
                customdata=_rd_customdata(group),
                hovertemplate=_RD_HOVER,
            )
        )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_layout(
        title="Risk difference vs control with 95% CI (Newcombe hybrid score)",
        scattermode="group",
        xaxis_title="Risk difference, dose minus control (percentage points)",
        yaxis={"categoryorder": "array", "categoryarray": order, "title": None},
        height=max(340, 80 + 26 * len(terms)),
        legend={"orientation": "h", "y": -0.1},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def risk_difference_volcano(rd: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Volcano plot: risk difference (x) against -log10 of Fisher's exact p (y), per PT and dose.

    ``rd``: ``teae.risk_differences``; marker size grows with the subjects affected (total_n).
    customdata as :func:`risk_difference_forest`.
    """
    fig = go.Figure()
    size_ref = max(float(rd["total_n"].max()) if len(rd) else 1.0, 1.0)
    for label, group in rd.groupby("cohort_label", sort=False):
        fig.add_trace(
            go.Scatter(
                x=group["rd"],
                y=group["neg_log10_p"],
                mode="markers",
                name=label,
                marker={
                    "color": colours.get(label, CONTROL_COLOUR),
                    "size": 7 + 18 * (group["total_n"] / size_ref) ** 0.5,
                    "opacity": 0.75,
                    "line": {"width": 0.5, "color": "#333"},
                },
                text=group["pt"],
                customdata=_rd_customdata(group),
                hovertemplate=_RD_HOVER,
            )
        )
    threshold = -math.log10(AE_SIGNIFICANCE)
    fig.add_hline(y=threshold, line_dash="dot", line_color="#888")
    fig.add_annotation(
        x=1,
        xref="paper",
        y=threshold,
        text="p = 0.05",
        showarrow=False,
        xanchor="right",
        yanchor="bottom",
        font={"size": 11, "color": "#666"},
    )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_layout(
        title="Volcano: risk difference vs −log10 Fisher p",
        xaxis_title="Risk difference, dose minus control (percentage points)",
        yaxis_title="−log10 (Fisher exact p)",
        height=420,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def cumulative_incidence_steps(ci: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Cumulative incidence of the first TEAE by cohort: step lines over days since first dose.

    ``ci``: ``teae.cumulative_incidence``. Markers sit on the days with events; customdata:
    cohort_id, usubjids (comma-separated), at_risk, events.
    """
    fig = go.Figure()
    for label, group in ci.groupby("cohort_label", sort=False):
        colour = colours.get(label, CONTROL_COLOUR)
        fig.add_trace(
            go.Scatter(
                x=group["day"],
                y=100 * group["cum_incidence"],
                mode="lines",
                line={"shape": "hv", "color": colour, "width": 2},
                name=label,
                legendgroup=label,
                hoverinfo="skip",
            )
        )
        events = group[group["events"] > 0]
        fig.add_trace(
            go.Scatter(
                x=events["day"],
                y=100 * events["cum_incidence"],
                mode="markers",
                marker={"color": colour, "size": 7},
                name=label,
                legendgroup=label,
                showlegend=False,
                customdata=events[["cohort_id", "usubjids", "at_risk", "events"]]
                .astype(object)
                .to_numpy(),
                hovertemplate=(
                    f"{label}, day %{{x}}: %{{y:.1f}}%<br>%{{customdata[3]}} first TEAE(s) of "
                    "%{customdata[2]} at risk<br>%{customdata[1]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title="Cumulative incidence of the first TEAE (1 − Kaplan–Meier)",
        xaxis_title="Days since first dose",
        yaxis={"title": "Subjects with a TEAE (%)", "range": [0, 102]},
        height=380,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def onset_histogram(dist: pd.DataFrame, colours: dict[str, str], bin_days: int) -> go.Figure:
    """TEAE onsets per bin of days since first dose, stacked by cohort.

    ``dist``: ``teae.onset_distribution``; customdata: cohort_id, bin_start, bin_end.
    """
    fig = go.Figure()
    for label, group in dist.groupby("cohort_label", sort=False):
        fig.add_trace(
            go.Bar(
                x=group["bin_start"] + bin_days / 2,
                y=group["events"],
                width=bin_days * 0.95,
                name=label,
                marker_color=colours.get(label, CONTROL_COLOUR),
                customdata=group[["cohort_id", "bin_start", "bin_end"]].astype(object).to_numpy(),
                hovertemplate=(
                    f"{label}<br>days %{{customdata[1]}}–%{{customdata[2]}}: "
                    "%{y} TEAE(s)<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=f"TEAE onset, days since first dose ({bin_days}-day bins)",
        barmode="stack",
        xaxis_title="Days since first dose",
        yaxis_title="TEAEs",
        height=340,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def grade_week_heatmap(grid: pd.DataFrame) -> go.Figure:
    """TEAEs by week since first dose (x) and CTCAE grade (y), as a heatmap.

    ``grid``: ``teae.grade_by_week`` (week, grade, events). Invisible markers on the cells carry
    customdata week, grade, events, so a click or box selection can be read back.
    """
    weeks = sorted(grid["week"].unique()) if len(grid) else []
    z = grid.pivot(index="grade", columns="week", values="events").reindex(
        index=range(1, 6), columns=weeks, fill_value=0
    )
    fig = go.Figure(
        go.Heatmap(
            x=weeks,
            y=[f"Grade {g}" for g in z.index],
            z=z.to_numpy(),
            colorscale=[[0, "#ffffff"], [0.001, "#fee8c8"], [0.5, "#fc8d59"], [1, "#7f0000"]],
            colorbar={"title": "TEAEs"},
            xgap=1,
            ygap=1,
            hoverinfo="skip",
        )
    )
    cells = grid[grid["events"] > 0]
    fig.add_trace(
        go.Scatter(
            x=cells["week"],
            y=[f"Grade {g}" for g in cells["grade"]],
            mode="markers",
            marker={"size": 14, "symbol": "square", "color": "rgba(0,0,0,0.01)"},
            showlegend=False,
            customdata=cells[["week", "grade", "events"]].astype(object).to_numpy(),
            hovertemplate="week %{customdata[0]}, grade %{customdata[1]}: "
            "%{customdata[2]} TEAE(s)<extra></extra>",
        )
    )
    fig.update_layout(
        title="TEAEs by week since first dose and grade",
        xaxis_title="Week since first dose (week 1 = days 0–6)",
        yaxis={
            "title": None,
            "categoryorder": "array",
            "categoryarray": [f"Grade {g}" for g in range(1, 6)],
        },
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


# --- patient profile -------------------------------------------------------------------------

SERIOUS_OUTLINE = "#b30000"  # serious AEs get a dark red outline
DLT_MARKERS = {  # dlt_status -> (marker symbol, colour, legend name)
    "candidate": ("star-open", "#d94801", "DLT candidate (not adjudicated)"),
    "confirmed": ("star", "#67000d", "DLT confirmed"),
    "added": ("star", "#67000d", "DLT added by adjudication"),
    "rejected": ("x-thin-open", "#636363", "DLT candidate rejected"),
}
GRADE_0_COLOUR = "#737373"  # a lab result of CTCAE grade 0 (grey: grades 1-4 stand out)
UNGRADED_COLOUR = "#bdbdbd"  # a lab result that cannot be graded


def patient_timeline(
    events: dict[str, pd.DataFrame],
    *,
    window_days: int,
    cutoff_day: int,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One patient's course on one axis of days from first dose (first dose = day 0).

    Rows from the top: dosing, one row per adverse event (a bar from onset to resolution, to
    the cut-off when ongoing, coloured by CTCAE grade; serious ones outlined in dark red,
    related ones hatched), DLT markers on their event's row, study visits. The DLT window is
    shaded and the cut-off is a dotted line. A day ``d`` spans ``[d - 0.5, d + 0.5]``.

    ``events`` is ``PatientProfile.timeline_events()``: frames ``ae`` (label, pt, grade,
    serious, related, causality, outcome, start, end, ongoing, start_date, end_date),
    ``dosing`` (day, label), ``dlt`` (day, label, term, dlt_status), ``visits`` (day, visit).
    """
    ae, dosing, dlt, visits = (events[k] for k in ("ae", "dosing", "dlt", "visits"))
    rows = ["Dosing", *ae["label"].tolist()]
    if not dlt.empty:  # lab-based and hand-added DLTs get rows of their own
        rows += [r for r in dict.fromkeys(dlt["label"]) if r not in rows]
    rows.append("Visits")
    fig = go.Figure()
    fig.add_vrect(
        x0=-0.5,
        x1=window_days - 0.5,
        fillcolor="#fee391",
        opacity=0.35,
        line_width=0,
        layer="below",
    )
    fig.add_annotation(
        x=(window_days - 1) / 2,
        y=1.0,
        yref="paper",
        yanchor="bottom",
        text=f"DLT window ({window_days} days)",
        showarrow=False,
        font={"size": 11, "color": "#8c6d1f"},
    )
    for grade, colour in GRADE_COLOURS.items():
        part = ae[ae["grade"] == grade]
        if part.empty:
            continue
        fig.add_trace(
            go.Bar(
                orientation="h",
                y=part["label"],
                base=part["start"].astype(float) - 0.5,
                x=(part["end"] - part["start"]).astype(float) + 1,
                name=f"Grade {grade}",
                legendgroup="grade",
                marker={
                    "color": colour,
                    "line": {
                        "color": [SERIOUS_OUTLINE if s else colour for s in part["serious"]],
                        "width": [3 if s else 0.5 for s in part["serious"]],
                    },
                    "pattern": {
                        "shape": ["/" if r else "" for r in part["related"]],
                        "fillmode": "overlay",  # hatching over the grade colour
                        "fgcolor": "#444",
                        "size": 6,
                        "solidity": 0.2,
                    },
                },
                text=[
                    " ".join(x for x in ("SAE" if s else "", "rel." if r else "") if x)
                    for s, r in zip(part["serious"], part["related"], strict=True)
                ],
                textposition="outside",
                cliponaxis=False,
                textfont={"size": 10, "color": SERIOUS_OUTLINE},
                customdata=part[
                    ["pt", "grade", "causality", "outcome", "start_date", "end_date", "ongoing"]
                ]
                .astype(object)
                .to_numpy(),
                hovertemplate=(
                    "%{customdata[0]}<br>grade %{customdata[1]}, causality %{customdata[2]}"
                    "<br>%{customdata[4]|%d %b %Y} to %{customdata[5]|%d %b %Y}"
                    " (ongoing: %{customdata[6]})<br>outcome %{customdata[3]}<extra></extra>"
                ),
            )
        )
    ungraded = ae[ae["grade"].isna()]
    if not ungraded.empty:
        fig.add_trace(
            go.Bar(
                orientation="h",
                y=ungraded["label"],
                base=ungraded["start"].astype(float) - 0.5,
                x=(ungraded["end"] - ungraded["start"]).astype(float) + 1,
                name="Grade not recorded",
                marker_color=UNGRADED_COLOUR,
            )
        )
    # legend keys for the outline and the hatching
    fig.add_trace(
        go.Bar(
            x=[None],
            y=[None],
            orientation="h",
            name="serious (red outline)",
            marker={"color": "white", "line": {"color": SERIOUS_OUTLINE, "width": 3}},
        )
    )
    fig.add_trace(
        go.Bar(
            x=[None],
            y=[None],
            orientation="h",
            name="related (hatched)",
            marker={
                "color": "white",
                "pattern": {"shape": "/", "fillmode": "overlay", "fgcolor": "#444"},
            },
        )
    )
    fig.add_trace(
        go.Scatter(
            x=dosing["day"].astype(float),
            y=["Dosing"] * len(dosing),
            mode="markers",
            name="Dose",
            marker={"symbol": "diamond", "size": 13, "color": "#08306b"},
            text=dosing["label"],
            hovertemplate="%{text}<br>day %{x} from first dose<extra></extra>",
        )
    )
    for status, (symbol, colour, name) in DLT_MARKERS.items():
        part = dlt[dlt["dlt_status"] == status] if not dlt.empty else dlt
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["day"].astype(float),
                y=part["label"],
                mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 16, "color": colour, "line": {"width": 2}},
                text=part["term"],
                hovertemplate=f"{name}: %{{text}}<br>onset day %{{x}}<extra></extra>",
            )
        )
    if not visits.empty:
        fig.add_trace(
            go.Scatter(
                x=visits["day"].astype(float),
                y=["Visits"] * len(visits),
                mode="markers",
                name="Visit (labs, vitals)",
                marker={
                    "symbol": "line-ns-open",
                    "size": 14,
                    "color": "#525252",
                    "line": {"width": 2},
                },
                text=visits["visit"],
                hovertemplate="%{text}<br>day %{x} from first dose<extra></extra>",
            )
        )
    fig.add_vline(x=cutoff_day + 0.5, line_dash="dot", line_color="#444")
    fig.add_annotation(
        x=cutoff_day + 0.5,
        y=1.0,
        yref="paper",
        yanchor="bottom",
        text="cut-off",
        showarrow=False,
        font={"size": 11},
    )
    fig.update_yaxes(categoryorder="array", categoryarray=rows, autorange="reversed", title=None)
    fig.update_xaxes(title="Days from first dose (day 0 = dosing)", zeroline=False)
    if x_range is not None:
        fig.update_xaxes(range=list(x_range))
    fig.update_layout(
        title="Timeline",
        barmode="overlay",
        height=170 + 26 * len(rows),
        legend={"orientation": "h", "y": -0.12 - 1.2 / max(len(rows), 4), "font": {"size": 11}},
        margin={"l": 10, "r": 40, "t": 50, "b": 40},
        bargap=0.35,
    )
    return fig


def patient_labs(
    labs: pd.DataFrame,
    tests: tuple[str, ...],
    *,
    x_range: tuple[float, float] | None = None,
    columns: int = 3,
) -> go.Figure:
    """Small multiples of one patient's key lab tests over days from first dose.

    Each panel: the normal range (LLN to ULN) as a green band, the values as a line, each
    result a marker coloured by its CTCAE grade (:data:`GRADE_COLOURS`; grade 0 grey, not
    gradable grey). ``labs``: test_code, test_name, unit, value, lln, uln, day (days from
    first dose), collected_date, visit, worst_grade, ctcae_term. Tests without results are
    left out.
    """
    present = [t for t in tests if (labs["test_code"] == t).any()] if not labs.empty else []
    if not present:
        fig = go.Figure()
        fig.update_layout(title="No key lab results by the cut-off", height=120)
        return fig
    from plotly.subplots import make_subplots

    rows = -(-len(present) // columns)
    titles = []
    for t in present:
        part = labs[labs["test_code"] == t]
        unit = part["unit"].dropna()
        titles.append(f"{t} ({unit.iloc[0]})" if len(unit) else t)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=titles,
        shared_xaxes=True,
        vertical_spacing=0.5 / rows / 2 + 0.04,
        horizontal_spacing=0.06,
    )
    for i, test in enumerate(present):
        row, col = i // columns + 1, i % columns + 1
        part = labs[labs["test_code"] == test].sort_values("day")
        lln, uln = part["lln"].median(), part["uln"].median()
        if pd.notna(lln) or pd.notna(uln):
            fig.add_hrect(
                y0=lln if pd.notna(lln) else 0,
                y1=uln if pd.notna(uln) else part["value"].max(),
                fillcolor="#a1d99b",
                opacity=0.35,
                line_width=0,
                layer="below",
                row=row,
                col=col,
                exclude_empty_subplots=False,  # drawn before the panel's trace
            )
        # the y range shows the whole normal range as well as every value
        span = [v for v in (part["value"].min(), part["value"].max(), lln, uln) if pd.notna(v)]
        pad = 0.08 * ((max(span) - min(span)) or abs(max(span)) or 1)
        fig.update_yaxes(range=[min(span) - pad, max(span) + pad], row=row, col=col)
        grade = part["worst_grade"]
        colours = [
            UNGRADED_COLOUR if pd.isna(g) else (GRADE_0_COLOUR if g == 0 else GRADE_COLOURS[int(g)])
            for g in grade
        ]
        fig.add_trace(
            go.Scatter(
                x=part["day"].astype(float),
                y=part["value"],
                mode="lines+markers",
                name=test,
                showlegend=False,
                line={"color": "#969696", "width": 1},
                marker={"color": colours, "size": 9, "line": {"color": "#252525", "width": 0.5}},
                customdata=pd.DataFrame(
                    {
                        "date": part["collected_date"],
                        "visit": part["visit"],
                        "grade": grade.astype(object).where(grade.notna(), "not gradable"),
                        "term": part["ctcae_term"]
                        .astype(object)
                        .where(part["ctcae_term"].notna(), ""),
                    }
                ).to_numpy(),
                hovertemplate=(
                    f"{test} %{{y}}<br>%{{customdata[0]|%d %b %Y}} (%{{customdata[1]}}, day %{{x}})"
                    "<br>CTCAE grade %{customdata[2]} %{customdata[3]}<extra></extra>"
                ),
            ),
            row=row,
            col=col,
        )
    if x_range is not None:
        fig.update_xaxes(range=list(x_range))
    for col in range(1, columns + 1):
        fig.update_xaxes(title_text="Days from first dose", row=rows, col=col)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        title="Key labs: normal range (green band), CTCAE grade (marker colour)",
        height=110 + 190 * rows,
        margin={"l": 10, "r": 10, "t": 70, "b": 40},
    )
    return fig


def patient_vitals(
    vitals: pd.DataFrame,
    tests: tuple[str, ...],
    *,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One patient's vital signs over days from first dose, one small panel per test.

    ``vitals``: test_code, unit, value, day (days from first dose), collected_date, visit.
    """
    present = [t for t in tests if (vitals["test_code"] == t).any()] if not vitals.empty else []
    if not present:
        fig = go.Figure()
        fig.update_layout(title="No vital signs by the cut-off", height=120)
        return fig
    from plotly.subplots import make_subplots

    titles = []
    for t in present:
        unit = vitals.loc[vitals["test_code"] == t, "unit"].dropna()
        titles.append(f"{t} ({unit.iloc[0]})" if len(unit) else t)
    fig = make_subplots(rows=1, cols=len(present), subplot_titles=titles, horizontal_spacing=0.05)
    for i, test in enumerate(present):
        part = vitals[vitals["test_code"] == test].sort_values("day")
        fig.add_trace(
            go.Scatter(
                x=part["day"].astype(float),
                y=part["value"],
                mode="lines+markers",
                name=test,
                showlegend=False,
                line={"color": "#2171b5", "width": 1},
                marker={"size": 7, "color": "#2171b5"},
                customdata=part[["collected_date", "visit"]].astype(object).to_numpy(),
                hovertemplate=(
                    f"{test} %{{y}}<br>%{{customdata[0]|%d %b %Y}} (%{{customdata[1]}}, "
                    "day %{x})<extra></extra>"
                ),
            ),
            row=1,
            col=i + 1,
        )
    if x_range is not None:
        fig.update_xaxes(range=list(x_range))
    fig.update_annotations(font_size=12)
    fig.update_layout(title="Vital signs", height=280, margin={"l": 10, "r": 10, "t": 70, "b": 30})
    return fig


# --- labs page -----------------------------------------------------------------------------------


LAB_GRADE_0_COLOUR = "#ffffff"  # labs page: a normal (grade 0) result is a hollow-looking point,
# so grade 1 (light blue) stands out against it


def _lab_grade_colour(grades: pd.Series) -> list[str]:
    return [
        UNGRADED_COLOUR
        if pd.isna(g)
        else (LAB_GRADE_0_COLOUR if int(g) == 0 else GRADE_COLOURS[int(g)])
        for g in grades.tolist()  # one colour per plotted point
    ]


def lab_time_course(values: pd.DataFrame, test_code: str) -> go.Figure:
    """One test's results over study days, a panel per cohort: each subject a grey line, each
    result a marker coloured by its worst CTCAE grade, the normal range as a shaded band.

    ``values``: ``queries.lab_values`` rows (usubjid, cohort_label, test_code, test_name,
    study_day, value, unit, lln, uln, worst_grade, grade_reason, visit). Points carry the
    subject in ``customdata[0]`` so a selection leads to the patient. The band is the median
    LLN-ULN of the cohort's results (ranges rarely differ within a study).
    """
    rows = values[(values["test_code"] == test_code) & values["value"].notna()]
    rows = rows[rows["study_day"].notna()]
    cohorts = list(dict.fromkeys(rows["cohort_label"].dropna()))
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
            domain=domain, title="Study day", anchor=yref, zeroline=False
        )
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
            text=f"<b>{cohort}</b>",
            xref=f"{xref} domain",
            yref="paper",
            x=0.5,
            y=1.06,
            showarrow=False,
            font={"size": 12},
        )
        for _usubjid, subject in group.groupby("usubjid", sort=False):
            fig.add_trace(
                go.Scatter(
                    x=subject["study_day"],
                    y=subject["value"],
                    mode="lines",
                    line={"color": "rgba(120,120,120,0.45)", "width": 1},
                    xaxis=xref,
                    yaxis=yref,
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=group["study_day"],
                y=group["value"],
                mode="markers",
                name=cohort,
                xaxis=xref,
                yaxis=yref,
                marker={
                    "color": _lab_grade_colour(group["worst_grade"]),
                    "size": 8,
                    "line": {"width": 0.5, "color": "#333"},
                },
                customdata=group[["usubjid", "visit"]].astype(str).fillna("").to_numpy(),
                text=[
                    "not graded" if pd.isna(g) else f"grade {int(g)}"
                    for g in group["worst_grade"].tolist()
                ],
                hovertemplate="%{customdata[0]}<br>%{customdata[1]}, day %{x}<br>"
                f"%{{y}} {unit}<br>CTCAE %{{text}}<extra></extra>",
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
    fig.update_layout(
        title=f"{name} ({unit}) by cohort: normal range shaded, points by CTCAE grade",
        yaxis_title=unit,
        height=360,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 70, "b": 40},
        dragmode="select",
    )
    return fig


def lab_visit_summary(
    summary: pd.DataFrame, colours: dict[str, str], test_code: str, statistic: str = "mean"
) -> go.Figure:
    """Mean (with SD bars) or median (with quartile bars) by cohort over scheduled visits.

    ``summary``: ``queries.lab_visit_summary`` rows (test_code, unit, cohort_label, visit,
    visit_num, n, mean, sd, median, q1, q3).
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f'statistic must be "mean" or "median", got {statistic!r}')
    rows = summary[summary["test_code"] == test_code].sort_values("visit_num")
    visits = list(dict.fromkeys(rows["visit"]))
    fig = go.Figure()
    for cohort, group in rows.groupby("cohort_label", sort=False):
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
                hovertemplate=f"{cohort}<br>%{{x}}: {statistic} %{{y:.3g}} (n=%{{customdata[0]}})"
                "<extra></extra>",
            )
        )
    unit = rows["unit"].dropna().iloc[0] if rows["unit"].notna().any() else ""
    label = "mean ± SD" if statistic == "mean" else "median (IQR)"
    fig.update_layout(
        title=f"{test_code}: {label} by cohort over scheduled visits",
        xaxis={"categoryorder": "array", "categoryarray": visits, "title": None},
        yaxis_title=unit,
        height=340,
        legend={"orientation": "h", "y": -0.3},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


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
    for cohort, group in rows.groupby("cohort_label", sort=False):
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
        dragmode="select",
    )
    return fig
