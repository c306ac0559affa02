"""Every SQL statement of the product outside the rules' own SQL, one module per concept.

One function per question, named for the question, returning a DataFrame whose columns the
docstring lists. Values always go in as parameters; identifiers (table names) come only from
fixed sets, never from user input (``translate`` quotes a delivered column's name). The DDL is in ``store/schema.sql``; the SQL of the clinical
rules (DLT, TEAE, safety population) is in ``safety.clinical``, that of CTCAE grading in
``safety.ctcae.sql``.
"""

from safety.store.queries import (
    adverse_events,
    alerts,
    database,
    deliveries,
    dlt,
    ingest,
    labs,
    notifications,
    patient,
    report,
    signatures,
    snapshot,
    sponsor,
    studies,
    subjects,
)

__all__ = [
    "adverse_events", "alerts", "database", "deliveries", "dlt", "ingest", "labs", "notifications",
    "patient", "report", "signatures", "snapshot", "sponsor", "studies", "subjects",
]
