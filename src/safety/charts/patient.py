"""Patient profile charts: timeline of dosing, AEs and DLTs; labs and vital signs."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from safety.charts.style import GRADE_COLOURS, UNGRADED_COLOUR, inert, visit_and_day
from safety.escaping import plotly_text

SERIOUS_OUTLINE = "#b30000"  # serious AEs get a dark red outline


DLT_MARKERS = {  # dlt_status -> (marker symbol, colour, legend name)
    "candidate": ("star-open", "#d94801", "DLT candidate (not adjudicated)"),
    "confirmed": ("star", "#67000d", "DLT confirmed"),
    "added": ("star", "#67000d", "DLT added by adjudication"),
    "rejected": ("x-thin-open", "#636363", "DLT candidate rejected"),
}


GRADE_0_COLOUR = "#737373"  # a lab result of CTCAE grade 0 (grey: grades 1-4 stand out)


@inert
def patient_timeline(
    events: dict[str, pd.DataFrame],
    *,
    window_days: int | None,
    cutoff_day: int,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One patient's course on one axis of SDTM study days (first dose = day 1, no day 0).

    Rows from the top: dosing, one row per adverse event (a bar from onset to resolution, to
    the last contact (end of study, death, else the cut-off) when it has no end date, coloured
    by CTCAE grade; serious ones outlined in dark red, related ones hatched), DLT markers on their event's row, study visits. The DLT window is
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
    if window_days is not None:  # None: the study has no DLT definition
        fig.add_vrect(
            x0=0.5,
            x1=window_days + 0.5,
            fillcolor="#fee391",
            opacity=0.35,
            line_width=0,
            layer="below",
        )
        fig.add_annotation(
            x=(window_days + 1) / 2,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text=f"DLT window (study days 1-{window_days})",
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
            hovertemplate="%{text}<br>study day %{x}<extra></extra>",
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
                hovertemplate=f"{name}: %{{text}}<br>onset on study day %{{x}}<extra></extra>",
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
                hovertemplate="%{text}<br>study day %{x}<extra></extra>",
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
    fig.update_xaxes(title="Study day (day 1 = first dose; no day 0)", zeroline=False)
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


@inert
def patient_labs(
    labs: pd.DataFrame,
    tests: tuple[str, ...],
    *,
    x_range: tuple[float, float] | None = None,
    columns: int = 3,
) -> go.Figure:
    """Small multiples of one patient's key lab tests over study days.

    Each panel: the normal range (LLN to ULN) as a green band, the values as a line, each
    result a marker coloured by its CTCAE grade (:data:`GRADE_COLOURS`; grade 0 grey, not
    gradable grey). ``labs``: test_code, test_name, unit, value, lln, uln, day (study
    day), collected_date, visit, worst_grade, ctcae_term. Tests without results are
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
        titles.append(f"{t} ({plotly_text(unit.iloc[0])})" if len(unit) else t)
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
                        "visit": visit_and_day(part["visit"], part["day"]),
                        "grade": grade.astype(object).where(grade.notna(), "not gradable"),
                        "term": part["ctcae_term"]
                        .astype(object)
                        .where(part["ctcae_term"].notna(), ""),
                    }
                ).to_numpy(),
                hovertemplate=(
                    f"{test} %{{y}}<br>%{{customdata[0]|%d %b %Y}} (%{{customdata[1]}})"
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


@inert
def patient_vitals(
    vitals: pd.DataFrame,
    tests: tuple[str, ...],
    *,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """One patient's vital signs over study days, one small panel per test.

    ``vitals``: test_code, unit, value, day (study day), collected_date, visit.
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
        titles.append(f"{t} ({plotly_text(unit.iloc[0])})" if len(unit) else t)
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
                customdata=list(zip(part["collected_date"].astype(object),
                                    visit_and_day(part["visit"], part["day"]), strict=True)),
                hovertemplate=(
                    f"{test} %{{y}}<br>%{{customdata[0]|%d %b %Y}} (%{{customdata[1]}})"
                    "<extra></extra>"
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
