"""Dose-escalation charts: DLT-window clock, toxicity estimates, dose paths, decision history."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from safety.charts.style import inert

DECISION_COLOURS = {
    "escalate": "#2171b5",
    "stay": "#7f7f7f",
    "de-escalate": "#fd8d3c",
    "eliminate": "#d94801",
    "stop": "#67000d",
    "none": "#bdbdbd",
    "pending": "#9e9ac8",  # the decision waits for the patients of the current dose
}


TARGET_COLOUR = "#cb181d"


@inert
def dlt_window_clock(clock: pd.DataFrame, window_days: int) -> go.Figure:
    """Each pending patient's DLT window as a bar: days gone (filled) out of the window.

    ``clock``: cohort, usubjid, day, days_left, window_end (from
    ``escalation_review.dlt_clock``). Bars carry the subject in ``customdata[0]``.
    """
    fig = go.Figure()
    names = clock["cohort"] + " · " + clock["usubjid"]
    subjects = clock[["usubjid"]].astype(str).to_numpy()
    fig.add_trace(
        go.Bar(
            y=names,
            x=[window_days] * len(clock),
            orientation="h",
            marker_color="#eeeeee",
            name="window",
            customdata=subjects,
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
            customdata=subjects,
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


@inert
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


@inert
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


@inert
def decision_history(history: pd.DataFrame) -> go.Figure:
    """The recommended next dose level on every day the data changed, coloured by decision.

    ``history``: day, dose_level, decision_state (the decision, or "pending"), events, reason
    (from ``monitor.decisions.decision_history``).
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
    for decision, group in history.groupby("decision_state", sort=False):
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
