"""Adverse-event charts: incidence bars, risk difference (forest, volcano), cumulative
incidence, onset histogram, grade-by-week heatmap."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from safety.charts.style import CONTROL_COLOUR, by_cohort, inert
from safety.escaping import plotly_text

AE_SIGNIFICANCE = 0.05  # reference line on the volcano plot: Fisher p = 0.05 (not a decision rule)


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@inert
def ae_incidence_bars(
    rows: pd.DataFrame, colours: dict[str, str], top: int = 15, title: str | None = None
) -> go.Figure:
    """Subjects with a TEAE (% of N) per term, a horizontal bar per cohort, most frequent on top.

    ``rows``: one level of ``adverse_events.soc_pt_incidence`` (level 'soc' or 'pt': soc, pt,
    cohort_label, cohort_id, n, N, pct, total_n). customdata: cohort_id, soc, pt, n, N.
    """
    level = rows["level"].iloc[0] if len(rows) else "pt"
    term = "pt" if level == "pt" else "soc"
    terms = rows.drop_duplicates(["soc", "pt"]).nlargest(top, "total_n", keep="first")
    shown = rows.merge(terms[["soc", "pt"]], on=["soc", "pt"])
    order = [_short(t) for t in terms[term]][::-1]  # most frequent at the top
    fig = go.Figure()
    for label, group in by_cohort(shown, colours):
        fig.add_trace(
            go.Bar(
                y=[_short(t) for t in group[term]],
                x=group["pct"].fillna(0),
                orientation="h",
                name=label,
                marker_color=colours.get(label, CONTROL_COLOUR),
                customdata=group[["cohort_id", "soc", "pt", "n", "N"]].astype(object).to_numpy(),
                hovertemplate=(
                    f"{plotly_text(label)}<br>%{{customdata[{2 if term == 'pt' else 1}]}}<br>"
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


@inert
def risk_difference_forest(rd: pd.DataFrame, colours: dict[str, str], top: int = 20) -> go.Figure:
    """Forest plot: risk difference (dose minus control, percentage points) per PT with its CI.

    ``rd``: ``ae_statistics.risk_differences`` (pt, cohort_label, rd, rd_lower, rd_upper, total_n, ...);
    the ``top`` most frequent terms. customdata: cohort_id, soc, pt, n, N, control_n,
    control_N, fisher_p, rd_lower, rd_upper.
    """
    terms = rd.drop_duplicates(["soc", "pt"]).head(top)  # rd comes sorted by frequency
    shown = rd.merge(terms[["soc", "pt"]], on=["soc", "pt"])
    order = [_short(t) for t in terms["pt"]][::-1]
    fig = go.Figure()
    for label, group in by_cohort(shown, colours):
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
        height=max(340, 110 + 26 * len(terms)),
        # above the plot, right: below it the legend covered the x-axis title
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"l": 10, "r": 10, "t": 80, "b": 40},
    )
    return fig


@inert
def risk_difference_volcano(rd: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Volcano plot: risk difference (x) against -log10 of Fisher's exact p (y), per PT and dose.

    ``rd``: ``ae_statistics.risk_differences``; marker size grows with the subjects affected (total_n).
    customdata as :func:`risk_difference_forest`.
    """
    fig = go.Figure()
    size_ref = max(float(rd["total_n"].max()) if len(rd) else 1.0, 1.0)
    for label, group in by_cohort(rd, colours):
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


@inert
def cumulative_incidence_steps(ci: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Cumulative incidence of the first TEAE by cohort: step lines over study days.

    ``ci``: ``ae_statistics.cumulative_incidence``. Markers sit on the days with events; customdata:
    cohort_id, usubjids (comma-separated), at_risk, events.
    """
    fig = go.Figure()
    for label, group in by_cohort(ci, colours):
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
                    f"{plotly_text(label)}, study day %{{x}}: %{{y:.1f}}%<br>%{{customdata[3]}} first TEAE(s) of "
                    "%{customdata[2]} at risk<br>%{customdata[1]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title="Cumulative incidence of the first TEAE (1 − Kaplan–Meier)",
        xaxis_title="Study day (day 1 = first dose)",
        yaxis={"title": "Subjects with a TEAE (%)", "range": [0, 102]},
        height=380,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


@inert
def onset_histogram(dist: pd.DataFrame, colours: dict[str, str], bin_days: int) -> go.Figure:
    """TEAE onsets per bin of study days (day 1 = first dose), stacked by cohort.

    ``dist``: ``ae_statistics.onset_distribution``; customdata: cohort_id, bin_start, bin_end.
    """
    fig = go.Figure()
    for label, group in by_cohort(dist, colours):
        fig.add_trace(
            go.Bar(
                x=group["bin_start"] + (bin_days - 1) / 2,
                y=group["events"],
                width=bin_days * 0.95,
                name=label,
                marker_color=colours.get(label, CONTROL_COLOUR),
                customdata=group[["cohort_id", "bin_start", "bin_end"]].astype(object).to_numpy(),
                hovertemplate=(
                    f"{plotly_text(label)}<br>study days %{{customdata[1]}}–%{{customdata[2]}}: "
                    "%{y} TEAE(s)<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=f"TEAE onset by study day ({bin_days}-day bins)",
        barmode="stack",
        xaxis_title="Study day (day 1 = first dose)",
        yaxis_title="TEAEs",
        height=340,
        legend={"orientation": "h", "y": -0.25,
                "traceorder": "normal"},  # the cohort order, not the stack's reverse
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


@inert
def grade_week_heatmap(grid: pd.DataFrame) -> go.Figure:
    """TEAEs by study week (x; week 1 = study days 1-7) and CTCAE grade (y), as a heatmap.

    ``grid``: ``ae_statistics.grade_by_week`` (week, grade, events). Invisible markers on the cells carry
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
        title="TEAEs by study week and grade",
        xaxis_title="Study week (week 1 = study days 1–7)",
        yaxis={
            "title": None,
            "categoryorder": "array",
            "categoryarray": [f"Grade {g}" for g in range(1, 6)],
        },
        height=300,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig
