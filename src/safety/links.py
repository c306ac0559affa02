"""Links into the dashboard (relative, so they work behind any host): every place that points a
person at a patient or a page builds the link here, with the study in it."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

# What patient_link and escalation_link make: a page and URL-encoded parameters, nothing else.
_DASHBOARD_LINK = re.compile(r"(patient|escalation|data)\?[A-Za-z0-9_.~%&=+-]*")


def patient_link(study_id: str, usubjid: str, cutoff: date | None = None) -> str:
    """The patient's profile: ``patient?study=...[&cutoff=...]&subject=...``; with ``cutoff``
    the profile opens at that data cut-off (the page it was opened from), subject last."""
    cut = {"cutoff": cutoff.isoformat()} if cutoff else {}
    return "patient?" + urlencode({"study": study_id, **cut, "subject": usubjid})


def overview_link(study_id: str) -> str:
    """The study's overview (the first page)."""
    return "?" + urlencode({"study": study_id})


def escalation_link(study_id: str) -> str:
    """The study's dose-escalation page."""
    return "escalation?" + urlencode({"study": study_id})


def data_link(study_id: str) -> str:
    """The study's Data page (deliveries, holds)."""
    return "data?" + urlencode({"study": study_id})


def dashboard_link(link: object) -> str | None:
    """``link`` if it is one of the dashboard's own links (a stored alert's), else None: a link
    read back from the database is shown as a link only when it could not lead elsewhere."""
    return link if isinstance(link, str) and _DASHBOARD_LINK.fullmatch(link) else None
