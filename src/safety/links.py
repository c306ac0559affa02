"""Links into the dashboard (relative, so they work behind any host): every place that points a
person at a patient or a page builds the link here, with the study in it."""

from __future__ import annotations

from urllib.parse import urlencode


def patient_link(study_id: str, usubjid: str) -> str:
    """The patient's profile: ``patient?study=...&subject=...``."""
    return "patient?" + urlencode({"study": study_id, "subject": usubjid})


def escalation_link(study_id: str) -> str:
    """The study's dose-escalation page."""
    return "escalation?" + urlencode({"study": study_id})
