"""Plotly figure builders, one module per page area: a frame in, a figure out. No database,
no streamlit, no file I/O. Shared style (grade colours, one colour per cohort) in ``style``.
"""

from safety.charts import adverse_events, escalation, labs, overview, patient, style

__all__ = ["adverse_events", "escalation", "labs", "overview", "patient", "style"]
