"""How decisions, rule states and severities look wherever they are shown, patient links, and
the download buttons every table and chart has."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from safety.display import header

# How a decision and a rule state look wherever they are shown (markdown badges).
DECISION_BADGES = {
    "escalate": ":blue-badge[escalate]",
    "stay": ":gray-badge[stay]",
    "de-escalate": ":orange-badge[de-escalate]",
    "eliminate": ":red-badge[eliminate]",
    "stop": ":red-badge[stop]",
    "none": ":gray-badge[no decision]",
    "pending": ":violet-badge[pending]",
}


RULE_BADGES = {
    "ok": ":green-badge[ok]",
    "warning": ":orange-badge[warning]",
    "triggered": ":red-badge[triggered]",
}


SEVERITY_BADGES = {
    "critical": ":red-badge[critical]",
    "high": ":orange-badge[high]",
    "medium": ":blue-badge[medium]",
    "info": ":gray-badge[info]",
}


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_") or "table"


def download_table(frame: pd.DataFrame, name: str, key: str | None = None) -> None:
    """CSV and XLSX download buttons for a table shown on the page.

    The files are made when a button is clicked (not on every rerun); the page does not rerun.
    ``name`` becomes the file name; ``key`` tells apart two tables of the same name. Formula-like
    text is quoted in both (``safety.escaping``). The first column states the sidebar's
    population filter, so a file read away from the page still says whom it counts. Headers
    read as words (``safety.display.header``); values keep their types (dates stay dates).
    """
    from safety.report.csv_files import frame_csv
    from safety.report.xlsx import frame_xlsx

    frame = frame.rename(columns=header)
    chosen = st.session_state.get("selection")
    if chosen is not None and "Population" not in frame.columns:
        frame = frame.assign(Population=chosen.population.describe())
        frame = frame[["Population", *frame.columns[:-1]]]
    slug = _slug(name)
    key = key or slug
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "CSV", data=lambda: frame_csv(frame),
            file_name=f"{slug}.csv", mime="text/csv", key=f"dl_csv_{key}",
            on_click="ignore", icon=":material/download:", type="tertiary",
        )  # fmt: skip
        st.download_button(
            "XLSX", data=lambda: frame_xlsx(frame, name), file_name=f"{slug}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"dl_xlsx_{key}", on_click="ignore", icon=":material/download:",
            type="tertiary",
        )  # fmt: skip


def download_figure(fig, name: str, key: str | None = None) -> None:
    """A PNG download button for a chart (kaleido with Debian's Chromium; made on click).

    One kaleido server per process (``safety.report.figures``): 2 s for the first figure,
    then about 0.13 s a figure.
    """
    from safety.report import figures

    def png() -> bytes:
        figures.start_server()  # the click runs in another thread: no st.* calls here
        return figures.to_png(fig)

    slug = _slug(name)
    st.download_button(
        "PNG", data=png, file_name=f"{slug}.png", mime="image/png",
        key=f"dl_png_{key or slug}", on_click="ignore", icon=":material/download:",
        type="tertiary",
    )  # fmt: skip


def report_content(content, key: str) -> None:
    """A report's tables and figures (``safety.report.tables.ReportContent``) on the page, each
    with its download buttons."""
    from safety.escaping import md

    for table in content.tables:
        st.markdown(f"**{md(table.title)}**")
        if table.note:
            st.caption(md(table.note))
        st.dataframe(table.frame, hide_index=True, key=f"{key}_table_{table.key}")
        download_table(table.frame, f"{content.study_id} {table.key} {content.cutoff}",
                       key=f"{key}_{table.key}")  # fmt: skip
    for figure in content.figures:
        st.plotly_chart(figure.figure, key=f"{key}_figure_{figure.key}", theme=None)  # as in the files
        download_figure(figure.figure, f"{content.study_id} {figure.key} {content.cutoff}",
                        key=f"{key}_{figure.key}")  # fmt: skip


def evaluable_history(outcomes: str) -> None:
    """The full evaluable history (Brock's notation, one letter per patient) on demand: on a
    real study it runs to hundreds of characters, so pages show it summarised per dose."""
    if outcomes:
        with st.expander("Evaluable history, patient by patient (Brock's notation)"):
            st.code(outcomes, language=None, wrap_lines=True)


def from_url(key: str, options: list) -> list:
    """A widget's options, its first value taken from ``?key=`` (matched as text) so that a
    shared link reopens the page as it was; :func:`to_url` keeps it there afterwards."""
    raw = st.query_params.get(key)
    if key not in st.session_state and raw is not None:
        st.session_state[key] = next((o for o in options if str(o) == raw), options[0])
    return options


def kept(key: str, default: object, options=None) -> dict:
    """``key=`` and ``on_change=`` for a widget inside a lazy tab (only the open tab runs):
    Streamlit drops a widget's state in a run that does not draw it, so its value is copied
    aside on every change and given back each time it is drawn (``default`` at first, or when
    ``options`` no longer offer it: :func:`_still_offered`). Use as
    ``st.radio(..., **widgets.kept("edish_x", "ALT"))``, without ``value=``/``index=``.
    """
    aside = f"_kept_{key}"

    def remember() -> None:
        st.session_state[aside] = st.session_state[key]

    st.session_state[key] = _still_offered(st.session_state.get(aside, default), default, options)
    return {"key": key, "on_change": remember}


def _still_offered(value, default, options):
    """``value`` if ``options`` (when given) still offer it; for a multiselect's list, the
    items still offered, or ``default`` when none of a non-empty choice is."""
    if options is None:
        return value
    if isinstance(value, list):
        offered = [v for v in value if v in options]
        return offered if offered or not value else default
    return value if value in options else default


def to_url(key: str, value, default) -> None:
    """Keep a widget's value in the URL (left out while it is the default)."""
    if value != default:
        st.query_params[key] = str(value)
    elif key in st.query_params:
        del st.query_params[key]
