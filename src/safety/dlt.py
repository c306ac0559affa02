"""Dose-limiting toxicities: candidates by the protocol's rules, adjudication, per-subject state.

The protocol's DLT definition (``[dlt]`` in the study configuration) makes an adverse event a
DLT candidate when it starts inside the DLT assessment window (from the first dose, day 1, for
``window_days`` days) and either

- its preferred term is one of ``always_terms`` (e.g. uterine perforation, anaphylaxis,
  teratoma), whatever its grade or causality, or
- its CTCAE grade is at least ``min_grade`` and, when ``require_related``, its causality is one
  of the study's related categories;

and its term is not in ``excluded_terms`` (expected effects of the procedure). Each candidate
carries the rule that made it. An adjudication (confirm / reject / add, with a reason) overrides
the derived status; the latest adjudication of an event wins. Counts and decisions use
candidates, confirmed and added DLTs, never rejected ones.

Per subject at a cut-off: ``not treated``; ``pending`` (inside the window, no DLT yet, with
days left); ``evaluable`` (window completed without DLT); ``DLT``; ``not evaluable`` (left the
study before the window ended without a DLT).

The rule is implemented once, in SQL (``queries.dlt_events`` / ``queries.subject_dlt_states``),
so the dashboard, the command line and the reports count the same events.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from safety import queries
from safety.config import StudyConfig

COUNTED_STATUSES = ("candidate", "confirmed", "added")  # a rejected candidate does not count


def dlt_events(con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date) -> pd.DataFrame:
    """DLT candidates and adjudicated DLTs of a study at the cut-off (see ``queries.dlt_events``)."""
    return queries.dlt_events(con, config.study_id, cutoff, config.dlt)


def subject_dlt_states(
    con: duckdb.DuckDBPyConnection, config: StudyConfig, cutoff: date
) -> pd.DataFrame:
    """Every subject's DLT-window state at the cut-off (see ``queries.subject_dlt_states``)."""
    return queries.subject_dlt_states(con, config.study_id, cutoff, config.dlt)
