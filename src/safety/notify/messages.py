"""One message per alert and subscriber, saying only what the subscriber's role may see.

What a message tells (the roles of ``safety.access.roles``):

- **closed** (a role that sees results by cohort: safety officer, DSMB): the study, the cohort
  by its label, the patient, what happened (the alert's title and detail), the clinical date
  and a link to the alert's page in the dashboard (the patient's profile, or the escalation);
- **patient** (a role that sees this patient's records but not by cohort: an investigator for
  her sites' patients): the same without the cohort;
- **open** (every other role with the open views, e.g. the sponsor): only that an event of the
  kind happened in the study, with its date and a link to the overview, never a cohort, a
  patient or a number by cohort (FDA DMC guidance 2006, 6.5). Alerts about the escalation
  (DLTs, stopping rules, decisions, accrual) are closed by nature and reach nobody open-only.

Every value from data goes through ``safety.escaping.message_text``: e-mails are plain text
and webhook JSON strings are inert in the chat tools that render them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from safety.access import Action, User
from safety.escaping import message_text as inert
from safety.links import dashboard_link, overview_link

PATIENT_KINDS = ("sae", "dlt", "grade3", "hys_law")  # alerts about one patient's records
OPEN_KINDS = {  # what an open-only reader is told about an alert of each kind
    "sae": "a serious adverse event (SAE)",
    "grade3": "an adverse event of CTCAE grade 3 or more",
    "hys_law": "a potential Hy's law case (liver laboratory values)",
}


@dataclass(frozen=True, slots=True)
class Message:
    """What one subscriber receives about one alert."""

    visibility: str  # closed, patient or open
    subject: str
    text: str  # the e-mail's body
    payload: dict  # the webhook's JSON document

    def json(self) -> str:
        return json.dumps(self.payload, ensure_ascii=False, sort_keys=True)


def visibility(alert, reader: User) -> str | None:
    """closed, patient or open: how much ``reader`` may see of ``alert`` (None: nothing)."""
    study = alert.study_id
    if reader.can(Action.VIEW_CLOSED, study):
        return "closed"
    site = None if pd.isna(alert.site) else str(alert.site)
    if alert.kind in PATIENT_KINDS and not pd.isna(alert.usubjid) and site is not None \
            and reader.can(Action.VIEW_PATIENT, study, site):
        return "patient"
    if alert.kind in OPEN_KINDS and reader.can(Action.VIEW_OPEN, study):
        return "open"
    return None


def compose(alert, reader: User, dashboard_url: str) -> Message | None:
    """The message ``reader`` gets about ``alert`` (a row of
    ``queries.notifications.alerts_to_notify``), or None when her role may see none of it."""
    seen = visibility(alert, reader)
    if seen is None:
        return None
    study = inert(alert.study_id)
    when = "" if pd.isna(alert.event_date) else pd.Timestamp(alert.event_date).date().isoformat()
    fields = {"alert_id": int(alert.alert_id), "study": study, "kind": alert.kind,
              "severity": alert.severity, "event_date": when or None, "visibility": seen,
              "raised_at": pd.Timestamp(alert.raised_at).isoformat() + "Z"}  # fmt: skip
    if seen == "open":
        what = f"{OPEN_KINDS[alert.kind]} was recorded"
        link = f"{dashboard_url}/{overview_link(alert.study_id)}"
        subject = f"[{alert.severity}] {study}: {what}"
        fields |= {"title": f"{what[0].upper()}{what[1:]}", "link": link,
                   "detail": "All cohorts pooled; details by patient and cohort are closed."}
        lines = [("Study", study), ("What happened", f"{what} (all cohorts pooled)"),
                 ("Date", when or "not given"), ("Severity", alert.severity),
                 ("Open view", link)]  # fmt: skip
    else:
        own = dashboard_link(alert.link)
        link = f"{dashboard_url}/{own}" if own else f"{dashboard_url}/{overview_link(alert.study_id)}"
        title, detail = inert(alert.title), inert(alert.detail)
        patient = None if pd.isna(alert.usubjid) else inert(alert.usubjid)
        cohort = None
        if seen == "closed" and not pd.isna(alert.cohort_id):
            cohort = inert(alert.cohort_label if not pd.isna(alert.cohort_label)
                           else alert.cohort_id)
        where = ", ".join(x for x in (study, cohort) if x)
        subject = f"[{alert.severity}] {title} ({where})"
        fields |= {"title": title, "detail": detail, "link": link, "patient": patient}
        lines = [("Study", study)]
        if seen == "closed":
            fields["cohort"] = cohort
            lines.append(("Cohort", cohort or "the whole study"))
        lines += [("Patient", patient or "none (about the study)"), ("What happened", title),
                  ("Details", detail), ("Date", when or "not given"),
                  ("Severity", alert.severity), ("Open in the dashboard", link)]  # fmt: skip
    text = "\n".join(f"{k}: {v}" for k, v in lines) + (
        f"\n\nAlert {int(alert.alert_id)} of the safety monitor. You receive it as "
        f"{inert(reader.describe(alert.study_id))}; subscriptions are in the access "
        "configuration.\n")
    return Message(seen, subject, text, {"type": "safety.alert", **fields})
