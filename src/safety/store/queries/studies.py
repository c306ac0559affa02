"""Studies and their configuration as recorded in the database."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from safety.clinical.dlt import rule_parameters
from safety.clinical.teae import follow_up_days
from safety.config import DltDefinition, LabSettings, StudyConfig
from safety.ctcae.sql import grading_parameters
from safety.store.queries.database import insert_frame, one_row


def studies(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """All studies in the database.

    Columns: study_id, title, registry_id, phase, design, data_cutoff, config_toml, subjects.
    """
    return con.execute(
        """
        SELECT s.study_id, s.title, s.registry_id, s.phase, s.design, s.data_cutoff, s.config_toml,
               (SELECT count(*) FROM current_subject u WHERE u.study_id = s.study_id) AS subjects
        FROM study s
        ORDER BY s.study_id
        """
    ).df()


def study_config_text(con: duckdb.DuckDBPyConnection, study_id: str) -> str | None:
    """The configuration TOML stored with a study (None when the study is unknown)."""
    row = one_row(con, "SELECT config_toml FROM study WHERE study_id = $s", {"s": study_id})
    return row[0] if row else None


def record_study(
    con: duckdb.DuckDBPyConnection,
    config: StudyConfig,
    batch_id: int,
    data_cutoff: date | None = None,
) -> None:
    """Record a study from its configuration: the study row, its cohorts and the parameters of
    its clinical rules (``rule_parameters``), all in ``batch_id``."""
    con.execute(
        """
        INSERT INTO study (study_id, title, registry_id, phase, design, config_toml,
                           config_sha256, data_cutoff, batch_id)
        VALUES ($study_id, $title, $registry_id, $phase, $design, $config_toml, $config_sha256,
                $data_cutoff, $batch_id)""",
        {
            "study_id": config.study_id,
            "title": config.title,
            "registry_id": config.registry_id,
            "phase": config.phase,
            "design": config.design.name if config.design else "none",
            "config_toml": config.source_text,
            "config_sha256": config.source_sha256,
            "data_cutoff": data_cutoff,
            "batch_id": batch_id,
        },
    )
    insert_frame(con, "cohort", pd.DataFrame({
        "study_id": config.study_id,
        "cohort_id": [c.cohort_id for c in config.cohorts],
        "label": [c.label for c in config.cohorts],
        "dose_level": pd.array([c.dose_level for c in config.cohorts], dtype="Int32"),
        "dose": pd.array([c.dose for c in config.cohorts], dtype="Float64"),
        "dose_unit": [c.dose_unit for c in config.cohorts],
        "is_control": [c.is_control for c in config.cohorts],
        "planned_subjects": pd.array([c.planned_subjects for c in config.cohorts], dtype="Int32"),
        "dose_illustrative": [config.doses_illustrative and not c.is_control
                              for c in config.cohorts],
        "batch_id": batch_id,
    }))
    record_rule_parameters(con, config.study_id, config.dlt, follow_up_days(config), config.labs)


def record_rule_parameters(
    con: duckdb.DuckDBPyConnection,
    study_id: str,
    dlt: DltDefinition | None,
    follow_up_days: int | None,
    labs: LabSettings | None = None,
) -> None:
    """Store the parameters of a study's clinical rules (its row of ``rule_parameters``,
    replacing any): the DLT definition (``clinical.dlt.rule_parameters``), the TEAE
    follow-up in days after the first dose (None: no limit) and the lab grading's choices
    (``ctcae.sql.grading_parameters``)."""
    row = {"study_id": study_id, "follow_up_days": follow_up_days, **rule_parameters(dlt),
           **grading_parameters(labs or LabSettings())}
    con.execute("DELETE FROM rule_parameters WHERE study_id = $study_id", {"study_id": study_id})
    con.execute(
        f"INSERT INTO rule_parameters ({', '.join(row)}) VALUES "
        f"({', '.join('$' + k for k in row)})",  # names from rule_parameters(), never from input
        row,
    )
