"""Adverse events: treatment-emergent AEs by cohort and against control, with the events behind
every number (select a cell, row, bar or point; the listing links to the patient page)."""

from __future__ import annotations

import html
from collections.abc import Callable

import pandas as pd
import streamlit as st

from safety import charts, links
from safety.access import Action
from safety.clinical import ae_statistics, teae
from safety.display import readable
from safety.escaping import md
from ui import data, drill, sidebar, widgets

sel = sidebar.selection(needs=Action.VIEW_CLOSED)
config = sel.config
# every table below counts the sidebar's population (its N too)
population = teae.AeFilter(subjects=None if sel.subjects is None else tuple(sorted(sel.subjects)))


def load(kind: str, filters: teae.AeFilter = population) -> pd.DataFrame:
    return data.ae_table(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version, kind, filters)


# --- drill-down: the last selection made in a section decides its listing ---------------------


def _remember(section: str, key: str) -> Callable[[], None]:
    def callback() -> None:
        st.session_state[f"ae_last_{section}"] = key

    return callback


def _selection(key: str) -> dict:
    state = st.session_state.get(key)
    if not state:
        return {}
    return state.get("selection", {}) if isinstance(state, dict) else state.selection


def _drill(section: str, parsers: dict[str, Callable[[dict], tuple | None]]) -> tuple | None:
    """(title, cell) of the section's latest selection, else of the first selection present."""
    last = st.session_state.get(f"ae_last_{section}")
    order = ([last] if last in parsers else []) + [k for k in parsers if k != last]
    for key in order:
        found = parsers[key](_selection(key))
        if found:
            return found
    return None


def _picked_cell(selection: dict) -> tuple[int, str | None] | None:
    """(row, column) of a table selection: the selected cell, else the selected row (no column)."""
    cells, rows = selection.get("cells") or [], selection.get("rows") or []
    if cells:
        return cells[0]
    return (rows[0], None) if rows else None


def _first_point(selection: dict) -> dict | None:
    """The first selected point, its customdata as the data were (the charts escape text)."""
    points = selection.get("points") or []
    if not points:
        return None
    point = dict(points[0])
    if "customdata" in point:
        point["customdata"] = [html.unescape(v) if isinstance(v, str) else v
                               for v in point["customdata"]]  # fmt: skip
    return point


def show_listing(section: str, found: tuple | None, filters: teae.AeFilter, hint: str) -> None:
    """The events behind the selected number, each subject linked to the patient page."""
    if not found:
        st.caption(hint)
        return
    title, cell = found
    events = sel.keep(data.ae_listing(sel.db, sel.user, sel.study_id, sel.cutoff, sel.version,
                                      filters, tuple(sorted(cell.items()))))  # fmt: skip
    st.markdown(f"**{md(title)}**: {events['usubjid'].nunique()} subjects, {len(events)} events")
    shown = pd.DataFrame(
        {
            "Subject": [links.patient_link(sel.study_id, u, sel.cutoff) for u in events["usubjid"]],
            "Cohort": events["cohort_label"],
            "Preferred term": events["pt"],
            "Grade": events["grade"],
            "Study day": events["study_day"],
            "Serious": events["serious"],
            "Related": events["related"],
            **({"DLT": events["is_dlt"]} if config.is_escalation else {}),
            "Onset": events["start_dtc"].fillna("unknown"),
            "Outcome": events["outcome"],
            "Action": events["action_taken"],
            "Causality": events["causality"],
            "Verbatim": events["verbatim"],
            "SOC": events["soc"],
            "Seq": events["seq"],
            "Emergent because": events["teae_basis"],
        }
    )
    drill.table(
        shown,
        f"ae_listing_{section}",
        events["usubjid"].tolist(),
        hide_index=True,
        column_config={
            "Subject": st.column_config.LinkColumn(
                "Subject", display_text=r"subject=([^&]*)", help="Open the patient in a new tab"
            )
        },
    )
    widgets.download_table(shown.assign(Subject=events["usubjid"].to_numpy()),
                          f"teae_listing_{section}")


SOC_COLUMNS = {"soc": st.column_config.TextColumn("System organ class", width="large")}
TERM_COLUMNS = {
    "soc": st.column_config.TextColumn("System organ class", width="small"),
    "pt": st.column_config.TextColumn("Preferred term", width="medium"),
}

# --- header and filters ----------------------------------------------------------------------

st.title("Adverse events")
follow_up = teae.follow_up_days(config)
st.caption(
    f"**{config.study_id}**, data cut-off {sel.cutoff:%d %b %Y}. Treatment-emergent AE (TEAE): "
    "onset on or after the first dose"
    + (f" and within the {config.follow_up_weeks}-week follow-up" if follow_up else "")
    + "; a partial onset date counts as emergent unless its known part (year, or year and "
    "month) proves it began before the first dose. N = subjects dosed by the cut-off"
    + (f" in the population ({sel.population.describe()})." if sel.subjects is not None else ".")
)
if config.doses_illustrative and config.dose_note:
    st.warning(md(config.dose_note), icon=":material/info:")

f1, f2, f3, f4 = st.columns(4)
min_grade = f1.selectbox(
    "Grade", widgets.from_url("ae_grade", [None, 2, 3, 4, 5]), key="ae_grade",
    format_func=lambda g: "All grades" if g is None else f"Grade ≥ {g}",
)
serious = f2.selectbox(
    "Seriousness", widgets.from_url("ae_serious", [None, True, False]), key="ae_serious",
    format_func=lambda v: {None: "Serious and non-serious", True: "Serious only",
                           False: "Non-serious only"}[v],
)
related = f3.selectbox(
    "Relatedness", widgets.from_url("ae_related", [None, True, False]), key="ae_related",
    format_func=lambda v: {None: "Related or not", True: "Related only",
                           False: "Not related only"}[v],
)
window = f4.selectbox(  # a DLT window only where the protocol defines one
    "Onset window",
    widgets.from_url("ae_window", list(teae.WINDOWS) if config.is_escalation else ["all"]),
    key="ae_window",
    format_func=lambda w: "Whole follow-up" if w == "all"
    else f"DLT window ({config.dlt.window_days} days)",
)
filters = teae.AeFilter(min_grade=min_grade, serious=serious, related=related, window=window,
                        subjects=population.subjects)
for key, value, default in (("ae_grade", min_grade, None), ("ae_serious", serious, None),
                            ("ae_related", related, None), ("ae_window", window, "all")):
    widgets.to_url(key, value, default)
st.caption(
    f"Filters ({filters.describe(config)}) apply to the SOC/PT table, the comparison with "
    "control and the timing views; the summary counts every TEAE."
)

summary = load("summary")
incidence = load("incidence", filters)
labels = dict(zip(summary["cohort_id"], summary["cohort_label"], strict=False))
colours = charts.style.cohort_colours(
    summary.drop_duplicates("cohort_id")[["cohort_label", "is_control", "dose_level"]]
    .rename(columns={"cohort_label": "label"})
)

headers = teae.cohort_columns(summary)
# Only the open tab runs (the charts of the other three are most of the page's time in a
# browser); the tab is kept in the URL.
tab_summary, tab_socpt, tab_control, tab_timing = st.tabs(
    ["Summary", "SOC / PT", "Compared with control", "Timing"],
    key="ae_tab", on_change="rerun", bind="query-params",
)

# --- summary -------------------------------------------------------------------------------------

if tab_summary.open:
    with tab_summary:
        table = teae.summary_table(summary)
        st.dataframe(
            table, hide_index=True, column_order=[c for c in table.columns if c != "category"],
            on_select=_remember("summary", "ae_summary_table"), key="ae_summary_table",
            selection_mode=["single-cell", "single-row"],
        )
        widgets.download_table(table.drop(columns="category"), "teae_summary")

        def _summary_cell(selection: dict) -> tuple | None:
            if (picked := _picked_cell(selection)) is None:
                return None
            row, column = picked
            category, label = table.iloc[int(row)][["category", "Subjects with"]]
            cohort = headers.get(column)
            where = f" in {column}" if cohort else ", all cohorts"
            cell = {"category": category}
            if cohort:
                cell["cohort_ids"] = [cohort]
            return f"{label}{where}", cell

        st.caption(
            "n (%) = subjects with at least one such event (% of N). Leading to discontinuation: "
            "action taken DRUG WITHDRAWN, or withdrawn from the study for an adverse event (all of "
            "that subject's TEAEs are listed)."
            + (" DLT: candidate or confirmed by the protocol's rule." if config.is_escalation else "")
        )
        show_listing(
            "summary", _drill("summary", {"ae_summary_table": _summary_cell}), population,
            "Select a cell (or a row) to list the events behind it.",
        )
        st.markdown("##### Subjects by worst grade of any TEAE")
        st.dataframe(teae.worst_grade_table(load("incidence")), hide_index=True,
                     key="ae_worst_grade_all")
        widgets.download_table(teae.worst_grade_table(load("incidence")), "teae_worst_grade")
        st.markdown("##### Deaths")
        deaths = sel.keep(load("deaths"))
        deaths_table = teae.deaths_table(deaths, summary)
        st.dataframe(deaths_table, hide_index=True, key="ae_deaths_table")
        widgets.download_table(deaths_table, "deaths")
        if not deaths.empty:
            deaths_listing = teae.deaths_listing(deaths)
            st.dataframe(deaths_listing, hide_index=True, key="ae_deaths_listing")
            widgets.download_table(deaths_listing, "deaths_listing")
        st.caption("Subjects of the safety analysis set who died by the cut-off: death date from "
                   "DM.DTHDTC or a DS DEATH record, else a fatal adverse event (AEOUT FATAL, "
                   "AESDTH Y or grade 5).")
        findings = load("data_quality")
        if not findings.empty:
            with st.expander(f"Data-quality findings: {len(findings)} records contradict "
                             "themselves or the sponsor's ADaM derivations"):
                st.dataframe(readable(findings), hide_index=True, key="ae_data_quality")
                widgets.download_table(findings, "ae_data_quality")
                st.caption("Kept as delivered; counted as the last column says (the conservative "
                           "reading: serious when any seriousness criterion is Y, fatal when the "
                           "outcome or AESDTH says so). Where an ADaM delivery's own flag or grade "
                           "(TRTEMFL, ATOXGR, SAFFL) differs from ours, both are listed; we count "
                           "by our rule.")

# --- SOC / PT ------------------------------------------------------------------------------------

if tab_socpt.open:
    with tab_socpt:
        st.caption(f"Counting {filters.describe(config)}. Sorted by the number of subjects.")
        socs = teae.incidence_table(incidence, "soc")
        st.markdown("##### System organ class")
        st.dataframe(
            socs, hide_index=True, on_select=_remember("socpt", "ae_soc_table"),
            column_config=SOC_COLUMNS,
            key="ae_soc_table", selection_mode=["single-cell", "single-row"],
        )
        widgets.download_table(socs, "teae_by_soc")
        soc_sel = _selection("ae_soc_table")
        soc_row = (soc_sel.get("cells") or [[None]])[0][0] if soc_sel.get("cells") else (
            (soc_sel.get("rows") or [None])[0])
        chosen_soc = socs.iloc[int(soc_row)]["soc"] if soc_row is not None and int(soc_row) < len(
            socs) else None
        pts = teae.incidence_table(incidence, "pt", soc=chosen_soc)
        st.markdown(
            f"##### Preferred terms in {md(chosen_soc)}" if chosen_soc
            else "##### Preferred terms (select a SOC to show only its terms)"
        )
        pt_key = f"ae_pt_table_{soc_row}"
        st.dataframe(
            pts, hide_index=True,
            column_order=[c for c in pts.columns if not (chosen_soc and c == "soc")], on_select=_remember("socpt", pt_key), key=pt_key,
            column_config=TERM_COLUMNS,
            selection_mode=["single-cell", "single-row"],
        )
        widgets.download_table(pts, "teae_by_soc_pt")

        def _table_cell(frame: pd.DataFrame, level: str) -> Callable[[dict], tuple | None]:
            def parse(selection: dict) -> tuple | None:
                if (picked := _picked_cell(selection)) is None:
                    return None
                row, column = picked
                if int(row) >= len(frame):
                    return None
                term = frame.iloc[int(row)]
                cohort = headers.get(column)
                cell = {"soc": term["soc"]}
                name = term["soc"]
                if level == "pt":
                    cell["pt"], name = term["pt"], term["pt"]
                if cohort:
                    cell["cohort_ids"] = [cohort]
                return f"{name}{' in ' + column if cohort else ', all cohorts'}", cell

            return parse

        def _bar_point(selection: dict) -> tuple | None:
            point = _first_point(selection)
            if not point:
                return None
            cohort, soc, pt = point["customdata"][:3]
            return (f"{pt} in {labels.get(cohort, cohort)}",
                    {"soc": soc, "pt": pt, "cohort_ids": [cohort]})

        pt_rows = incidence[incidence["level"] == "pt"]
        if chosen_soc:
            pt_rows = pt_rows[pt_rows["soc"] == chosen_soc]
        if pt_rows.empty:
            st.info(f"No subject has a TEAE matching the filters ({filters.describe(config)}).")
        else:
            bars = data.chart("adverse_events.ae_incidence_bars", pt_rows, colours)
            st.plotly_chart(
                bars, key="ae_pt_bars",
                on_select=_remember("socpt", "ae_pt_bars"), selection_mode=("points", "box"),
            )
            widgets.download_figure(bars, "teae_incidence_bars")
        found = _drill(
            "socpt",
            {"ae_pt_bars": _bar_point, pt_key: _table_cell(pts, "pt"),
             "ae_soc_table": _table_cell(socs, "soc")},
        )
        if found:
            cell = found[1]
            st.markdown(f"##### Worst grade: {md(cell.get('pt') or cell.get('soc'))}")
            st.dataframe(teae.worst_grade_table(incidence, cell.get("soc"), cell.get("pt")),
                         hide_index=True, key="ae_worst_grade_term")
        show_listing("socpt", found, filters, "Select a SOC or PT cell, row or bar to list its events.")

# --- compared with control ---------------------------------------------------------------------

if tab_control.open:
    with tab_control:
        rd = ae_statistics.risk_differences(incidence)
        cohort_n = summary.drop_duplicates("cohort_id")
        control = cohort_n[cohort_n["is_control"]]
        if rd.empty:
            st.info("No comparison: the study has no control cohort with dosed subjects, or no TEAE "
                    "matches the filters.")
        else:
            smallest = int(cohort_n.loc[cohort_n["N"] > 0, "N"].min())
            st.warning(
                f"**Small numbers.** The smallest cohort has {smallest} subjects, so one subject "
                f"moves its proportion by {100 / smallest:.1f} percentage points and the intervals "
                "are wide. Fisher p-values are not adjusted for the "
                f"{rd['pt'].nunique()} terms compared: read them as screening signals, not as "
                "tests; with cohorts this small an interval that excludes 0 can rest on one or two "
                "events, and a real signal can fail to reach p < 0.05.",
                icon=":material/warning:",
            )
            st.caption(
                "Risk difference = dose cohort minus control "
                f"({md(control['cohort_label'].iloc[0])}), in percentage points, per preferred term; "
                "95% CI by Newcombe's hybrid score method (method 10 of Newcombe, Stat Med 1998; "
                "Wilson intervals combined), two-sided Fisher exact p."
            )
            dose_labels = [c for c in colours if c in set(rd["cohort_label"])]  # the cohort order
            doses = st.multiselect("Dose cohorts", dose_labels,
                                   **widgets.kept("ae_rd_doses", dose_labels, dose_labels))
            shown_rd = rd[rd["cohort_label"].isin(doses)]
            top = st.slider("Terms in the forest plot (most frequent first)", 5, 50,
                            **widgets.kept("ae_rd_top", 20))
            forest = data.chart("adverse_events.risk_difference_forest", shown_rd, colours, top=top)
            st.plotly_chart(
                forest, key="ae_forest",
                on_select=_remember("control", "ae_forest"), selection_mode=("points", "box"),
            )
            widgets.download_figure(forest, "risk_difference_forest")
            volcano = data.chart("adverse_events.risk_difference_volcano", shown_rd, colours)
            st.plotly_chart(
                volcano, key="ae_volcano",
                on_select=_remember("control", "ae_volcano"), selection_mode=("points", "box"),
            )
            widgets.download_figure(volcano, "risk_difference_volcano")
            rd_table = pd.DataFrame(
                {
                    "Preferred term": shown_rd["pt"],
                    "Cohort": shown_rd["cohort_label"],
                    "Dose n/N": shown_rd["n"].astype(str) + "/" + shown_rd["N"].astype(str),
                    "Control n/N": shown_rd["control_n"].astype(str) + "/"
                    + shown_rd["control_N"].astype(str),
                    "Risk difference": shown_rd["rd"].round(1),
                    "95% CI": "(" + shown_rd["rd_lower"].map("{:.1f}".format) + ", "
                    + shown_rd["rd_upper"].map("{:.1f}".format) + ")",
                    "Fisher p": shown_rd["fisher_p"].round(4),
                }
            ).reset_index(drop=True)
            st.dataframe(rd_table, hide_index=True, key="ae_rd_table",
                         on_select=_remember("control", "ae_rd_table"),
                         selection_mode="single-row")
            widgets.download_table(rd_table, "risk_differences")
            control_id = control["cohort_id"].iloc[0]

            def _rd_point(selection: dict) -> tuple | None:
                point = _first_point(selection)
                if not point:
                    return None
                cohort, soc, pt = point["customdata"][:3]
                return (f"{pt}: {labels.get(cohort, cohort)} and control",
                        {"soc": soc, "pt": pt, "cohort_ids": [cohort, control_id]})

            def _rd_row(selection: dict) -> tuple | None:
                rows = selection.get("rows") or []
                if not rows or int(rows[0]) >= len(shown_rd):
                    return None
                row = shown_rd.iloc[int(rows[0])]
                return (f"{row['pt']}: {row['cohort_label']} and control",
                        {"soc": row["soc"], "pt": row["pt"],
                         "cohort_ids": [row["cohort_id"], control_id]})

            show_listing(
                "control", _drill("control", {"ae_forest": _rd_point, "ae_volcano": _rd_point,
                                   "ae_rd_table": _rd_row}),
                filters, "Select a point or a row to list the events of that term in the dose "
                "cohort and in control.",
            )

# --- timing --------------------------------------------------------------------------------------

if tab_timing.open:
    with tab_timing:
        st.caption(f"Counting {filters.describe(config)}. Days are study days: day 1 is the day of "
                   "the first dose, the day before it day -1 (SDTM; there is no day 0).")
        times = load("first_times", filters)
        onsets = load("onsets", filters)
        cuminc = data.chart("adverse_events.cumulative_incidence_steps",
                            ae_statistics.cumulative_incidence(times), colours)
        st.plotly_chart(
            cuminc, key="ae_cuminc", on_select=_remember("timing", "ae_cuminc"),
            selection_mode=("points", "box"),
        )
        widgets.download_figure(cuminc, "cumulative_incidence")
        st.caption(
            "1 − Kaplan–Meier estimate of the time to the first TEAE; subjects without one are "
            "censored at the cut-off, their end of study or the end of follow-up. Deaths are "
            "censored, not treated as a competing risk."
        )
        left, right = st.columns(2)
        with left:
            bin_days = st.segmented_control(
                "Bin width", [1, 7, 28], **widgets.kept("ae_bin_days", 7),
                format_func=lambda d: f"{d} day{'s' if d > 1 else ''}",
            ) or 7
            histogram = data.chart("adverse_events.onset_histogram",
                ae_statistics.onset_distribution(onsets, bin_days), colours, bin_days
            )
            st.plotly_chart(
                histogram, key="ae_onset_hist", on_select=_remember("timing", "ae_onset_hist"),
                selection_mode=("points", "box"),
            )
            widgets.download_figure(histogram, "onset_histogram")
        with right:
            heat_cohorts = st.multiselect(
                "Cohorts in the heatmap", list(labels), format_func=labels.get,
                **widgets.kept("ae_heat_cohorts", list(labels), list(labels)),
            )
            heatmap = data.chart("adverse_events.grade_week_heatmap",
                                 ae_statistics.grade_by_week(onsets, heat_cohorts))
            st.plotly_chart(
                heatmap, key="ae_heatmap", on_select=_remember("timing", "ae_heatmap"),
                selection_mode=("points", "box"),
            )
            widgets.download_figure(heatmap, "grade_by_week")

        def _cuminc_point(selection: dict) -> tuple | None:
            point = _first_point(selection)
            if not point:
                return None
            cohort, subjects = point["customdata"][:2]
            return (f"First TEAE on study day {point['x']} in {labels.get(cohort, cohort)}",
                    {"cohort_ids": [cohort], "usubjids": subjects.split(", "),
                     "first_per_subject": True})

        def _hist_point(selection: dict) -> tuple | None:
            point = _first_point(selection)
            if not point:
                return None
            cohort, start, end = point["customdata"][:3]
            return (f"Onset on study days {start}–{end} in {labels.get(cohort, cohort)}",
                    {"cohort_ids": [cohort], "onset_from_day": int(start), "onset_to_day": int(end)})

        def _heat_point(selection: dict) -> tuple | None:
            point = _first_point(selection)
            if not point or "customdata" not in point:
                return None
            week, grade = (int(v) for v in point["customdata"][:2])
            return (f"Grade {grade} with onset in week {week}",
                    {"cohort_ids": heat_cohorts, "grade": grade,
                     "onset_from_day": 7 * (week - 1) + 1, "onset_to_day": 7 * week})

        show_listing(
            "timing", _drill("timing", {"ae_cuminc": _cuminc_point, "ae_onset_hist": _hist_point,
                              "ae_heatmap": _heat_point}),
            filters, "Select a point on the curves, a bar or a heatmap cell to list its events.",
        )
