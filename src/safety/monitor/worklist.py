"""The worklist: open items that need a person, listed until someone acts on them.

An alert says something happened; an open item says someone must still act. Whether it was
present when monitoring began (a *baseline* alert, acknowledged by ``system``) does not matter:
a DLT candidate nobody adjudicated waits all the same. The items, most urgent first:

- **DLT candidate to adjudicate**: a candidate by the protocol's rule (``queries.dlt.dlt_events``,
  status ``candidate``) that nobody confirmed or rejected (``dlt.adjudicate``);
- **SAE to review**: a serious adverse event's alert that no person acknowledged (a baseline
  acknowledgement by ``system`` does not count) and whose patient was not reviewed since it was
  raised (``alert.acknowledge`` or ``patient.review``);
- **death to review**: a subject of the safety analysis set who died
  (``queries.adverse_events.deaths``) and whose current review is not "reviewed" on or after
  the death (``patient.review``);
- **held delivery to confirm or reject** (``queries.deliveries.holds``, pending;
  ``delivery.confirm``).

Items are read at the data as they are now (every record, whatever cut-off a page shows): the
work waits whichever day one looks at. Who may see and act on them is ``safety.views.worklist``.

References
----------
ICH E2A (1994): serious adverse events are reviewed promptly; ICH E6(R3) 5.18: the monitor's
review of safety data.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from safety.access import Action
from safety.config import StudyConfig
from safety.links import data_link, patient_link
from safety.monitor.alerts import BASELINE_ACTOR
from safety.store import queries

EVERY_RECORD = date(9999, 12, 31)  # a cut-off after every record: the data as they are now
COLUMNS = ("item", "study_id", "cohort_label", "usubjid", "site_id", "what", "event_date",
           "baseline", "action", "to_do", "link")
# (item, the act that closes it, what to do, in words)
ITEMS = {
    "dlt": ("DLT candidate to adjudicate", Action.ADJUDICATE_DLT,
            "confirm or reject it on the patient's page"),
    "sae": ("SAE to review", Action.ACKNOWLEDGE_ALERT,
            "acknowledge its alert, or review the patient"),
    "death": ("Death to review", Action.REVIEW_PATIENT, "review the patient"),
    "hold": ("Held delivery to confirm or reject", Action.CONFIRM_DELIVERY,
             "confirm or reject it on the Data page"),
}


# Alert kinds whose open work is already an item (the SAE to review, the DLT to adjudicate).
ITEM_ALERT_KINDS = ("sae", "dlt")


def needs_someone(items: pd.DataFrame, unacknowledged: pd.DataFrame) -> int:
    """How many things need a person: the open items, plus the unacknowledged alerts whose
    work is not an item already (``queries.alerts.unacknowledged_alert_counts`` rows of one
    study: kind, alerts). An SAE's alert and the SAE to review are one thing, as are a DLT
    candidate's alert and its adjudication."""
    other = unacknowledged[~unacknowledged["kind"].isin(ITEM_ALERT_KINDS)]
    return len(items) + int(other["alerts"].sum())


def _items(kind: str, frame: pd.DataFrame, study_id: str, what: pd.Series,
           event_date: pd.Series, link: pd.Series, baseline: pd.Series | bool = False
           ) -> pd.DataFrame:
    item, action, to_do = ITEMS[kind]
    return pd.DataFrame({
        "item": item,
        "study_id": study_id,
        "cohort_label": frame.get("cohort_label", pd.Series(None, index=frame.index)),
        "usubjid": frame.get("usubjid", pd.Series(None, index=frame.index)),
        "site_id": frame.get("site_id", pd.Series(None, index=frame.index)),
        "what": what,
        "event_date": pd.to_datetime(event_date).dt.date,
        "baseline": baseline,
        "action": str(action),
        "to_do": to_do,
        "link": link,
    }, index=frame.index)


def open_items(con: duckdb.DuckDBPyConnection, config: StudyConfig) -> pd.DataFrame:
    """The study's open items, most urgent kind first, then by event date.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`: item (the kind, in words), study_id, cohort_label, usubjid,
        site_id (the patient's site; None for a delivery), what (the record), event_date,
        baseline (an SAE present when monitoring began, acknowledged then by ``system``), action (the ``safety.access.Action`` that closes it), to_do (in words), link.
    """
    study_id = config.study_id
    roster = queries.subjects.study_roster(con, study_id)
    sites = dict(zip(roster["usubjid"], roster["site_id"], strict=True))
    labels = {c.cohort_id: c.label for c in config.cohorts}
    parts = []
    if config.is_escalation:
        dlts = queries.dlt.dlt_events(con, study_id, EVERY_RECORD)
        dlts = dlts[dlts["dlt_status"] == "candidate"].assign(
            cohort_label=lambda f: f["cohort_id"].map(labels),
            site_id=lambda f: f["usubjid"].map(sites))
        parts.append(_items(
            "dlt", dlts, study_id,
            dlts["term"] + " (grade " + dlts["grade"].astype("Int64").astype(str) + ")",
            dlts["onset_date"], dlts["usubjid"].map(lambda u: patient_link(study_id, u))))
    saes = queries.alerts.sae_alerts_not_reviewed(con, study_id, BASELINE_ACTOR)
    parts.append(_items(
        "sae", saes, study_id,
        pd.Series([t.replace(f" in {u}", "") for t, u in zip(saes["title"], saes["usubjid"],
                                                             strict=True)], index=saes.index),
        saes["event_date"], saes["usubjid"].map(lambda u: patient_link(study_id, u)),
        baseline=saes["acknowledged_by"] == BASELINE_ACTOR))
    deaths = queries.adverse_events.deaths(con, study_id, EVERY_RECORD)
    reviews = queries.patient.latest_reviews(con, study_id)
    reviews = reviews[reviews["status"] == "reviewed"][["usubjid", "reviewed_at"]]
    deaths = deaths.merge(reviews, on="usubjid", how="left")
    died_on = pd.to_datetime(deaths["death_date"])
    reviewed_on = pd.to_datetime(deaths["reviewed_at"]).dt.normalize()
    deaths = deaths[reviewed_on.isna() | (died_on.notna() & (reviewed_on < died_on))]
    deaths = deaths.assign(site_id=deaths["usubjid"].map(sites))
    parts.append(_items(
        "death", deaths, study_id,
        "died" + deaths["fatal_events"].map(lambda t: f" ({t})" if isinstance(t, str) and t
                                            else "", na_action="ignore").fillna(""),
        deaths["death_date"], deaths["usubjid"].map(lambda u: patient_link(study_id, u))))
    holds = queries.deliveries.holds(con, study_id, pending_only=True)
    parts.append(_items(
        "hold", holds, study_id,
        holds["file_name"] + " (" + holds["domain"].fillna("?") + "): " + holds["reason"],
        pd.to_datetime(holds["held_at"]), pd.Series(data_link(study_id), index=holds.index)))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(COLUMNS)]
