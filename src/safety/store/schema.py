"""The database's definition: the tables (``schema.sql``), the generated CTCAE grading objects,
and the clinical rules' table macros that every connection carries.

The rules' SQL is owned by the rules (``safety.clinical.dlt``, ``.populations``, ``.teae``); it
is installed as TEMP macros on every connection (:func:`install_rules`), not stored in the file,
so a database always runs the rules of the software reading it.
"""

from __future__ import annotations

from importlib.resources import files

import duckdb

from safety.clinical import dlt, populations, teae
from safety.ctcae import sql as ctcae_sql

SCHEMA_VERSION = 9  # 9: notification outbox, attempts and state; sponsor_value (ADaM derivations
#    kept beside ours); rule_parameters' DLT columns nullable (a study without a DLT definition)
# 8: date-times (*_at), AE seriousness criteria, EX frequency, evaluability and
#    INR settings in rule_parameters; deliveries (ingest_batch.delivery ..., held_delivery,
#    quarantine history); hash-chained audit_log, audit_head, signature (electronic signatures)
# 7: rule_parameters table (the clinical rules' parameters per study)
# 6: alert and alert_state tables (live monitoring)
# 5: lab_graded is a table refreshed per study from the lab_grading view

# In dependency order: the TEAE rule reads the DLT rule and the safety population.
RULE_MACROS = (dlt.MACROS, populations.MACROS, teae.MACROS)


def tables_sql() -> str:
    """The DDL of the whole data model (``schema.sql``)."""
    return files("safety.store").joinpath("schema.sql").read_text(encoding="utf-8")


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view of the data model in an empty database.

    After ``schema.sql`` come the generated objects of ``safety.ctcae.sql.schema_sql``: the
    ``ctcae_signif`` macro, the ``lab_grading`` view (CTCAE v5.0 grades of every current lab
    row, translated from the bundled admiral criteria) and the ``lab_graded`` table holding its
    rows (refreshed per study by ``queries.labs.refresh_lab_grades``). The view's text depends
    only on this package; a new criteria table or lab map needs a new SCHEMA_VERSION.
    """
    con.execute(tables_sql())
    con.execute(ctcae_sql.schema_sql())
    install_rules(con)


def install_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Give a connection the clinical rules' table macros (TEMP: works on read-only files)."""
    for macros in RULE_MACROS:
        con.execute(macros)
