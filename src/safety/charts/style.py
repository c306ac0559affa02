"""What every chart shares: CTCAE grade colours, one colour per cohort, and data that stay text
(:func:`inert`)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from safety.escaping import plotly_text

# CTCAE grade colours, mild to fatal, used on every chart that shows a grade.
GRADE_COLOURS = {1: "#9ecae1", 2: "#fdd0a2", 3: "#fd8d3c", 4: "#d94801", 5: "#67000d"}


CONTROL_COLOUR = "#7f7f7f"


DOSE_COLOURS = ("#6baed6", "#2171b5", "#08306b", "#4a1486", "#807dba", "#54278f")


UNGRADED_COLOUR = "#bdbdbd"  # a lab result that cannot be graded
SUBJECT_SEPARATOR = ";"  # the subjects a bar or marker stands for, in its customdata[0]



def cohort_order(cohorts: pd.DataFrame) -> list[str]:
    """The one cohort order of every table, chart, legend and selector: control first, then by
    dose level (then label). ``cohorts`` needs columns label, is_control, dose_level."""
    keyed = cohorts.assign(
        _control=cohorts["is_control"].fillna(False).astype(bool),
        _level=pd.to_numeric(cohorts["dose_level"], errors="coerce"),
    ).sort_values(["_control", "_level", "label"], ascending=[False, True, True],
                  na_position="last", kind="stable")
    return list(dict.fromkeys(keyed["label"]))


def cohort_colours(cohorts: pd.DataFrame) -> dict[str, str]:
    """A colour per cohort label, in :func:`cohort_order`: grey for control, darker blues for
    higher doses.

    ``cohorts`` needs columns label, is_control, dose_level.
    """
    colours = {}
    order = {label: i for i, label in enumerate(cohort_order(cohorts))}
    rows = cohorts.assign(_order=cohorts["label"].map(order)).sort_values("_order", kind="stable")
    for row in rows.itertuples():  # one row per cohort: a handful
        colours[row.label] = (
            CONTROL_COLOUR
            if row.is_control
            else DOSE_COLOURS[(int(row.dose_level) - 1) % len(DOSE_COLOURS)]
        )
    return colours


def by_cohort(frame: pd.DataFrame, colours: dict[str, str], column: str = "cohort_label"):
    """(label, rows) per cohort of ``frame`` in the cohorts' order (that of ``colours``, made by
    :func:`cohort_colours`), cohorts missing from it last: traces and legends in one order."""
    rank = {label: i for i, label in enumerate(colours)}
    labels = sorted(frame[column].dropna().unique(), key=lambda x: (rank.get(x, len(rank)), x))
    return [(label, frame[frame[column] == label]) for label in labels]


def visit_and_day(visits: pd.Series, days: pd.Series) -> list[str]:
    """Each point's visit and study day for a tooltip, said once: "WEEK 2, study day 15", or
    just "study day 7" when the visit is that day ("DAY 7")."""
    out = []
    for visit, day in zip(visits.tolist(), days.tolist(), strict=True):
        when = f"study day {day:g}" if isinstance(day, int | float) and pd.notna(day) else ""
        name = visit.strip() if isinstance(visit, str) else ""
        same = when and name.upper() == f"DAY {day:g}"
        out.append(when if same or not name else f"{name}, {when}" if when else name)
    return out


# Trace attributes that carry data values (axis categories, labels, hover text, legend names).
_DATA_ATTRIBUTES = ("x", "y", "z", "text", "hovertext", "customdata", "labels", "parents", "ids",
                    "name", "legendgroup")  # fmt: skip
_escape_all = np.vectorize(plotly_text, otypes=[object])


def inert(build: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
    """Decorate a chart builder: every text value in its figure's trace data, and the
    categories and tick texts of its axes, are escaped for plotly
    (``safety.escaping.plotly_text``), so a term like ``<a href=...>`` shows as typed and never
    as a link. Templates stay as written; data interpolated into them is escaped where it is
    interpolated. A page reading a selection back unescapes customdata (``html.unescape``).
    """

    @functools.wraps(build)
    def builder(*args, **kwargs) -> go.Figure:
        fig = build(*args, **kwargs)
        for trace in fig.data:
            for attribute in _DATA_ATTRIBUTES:
                if attribute in trace and trace[attribute] is not None:
                    trace[attribute] = _escaped(trace[attribute])
        axes = [fig.layout[k] for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
        for axis in axes:
            for attribute in ("categoryarray", "ticktext"):
                if axis[attribute] is not None:
                    axis[attribute] = _escaped(axis[attribute])
        return fig

    return builder


def _escaped(value):
    if isinstance(value, str):
        return plotly_text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_escaped(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS" and value.size:
        return _escape_all(value.astype(object))
    return value
