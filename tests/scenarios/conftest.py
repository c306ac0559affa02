"""Scenario databases, built once per test session through the real ingest and reused by the
scenario modules and by the invariant walks (the demo database is the session's ``demo_db`` of
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .sdtm import PILOT_DIR, Study, check_loaded, deliver, ingest


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Callable[..., Path]:
    """``build(study, key=None)``: the database of ``study`` delivered as SDTM files (one ingest
    call, DM first), made once per session per key (default: the study id)."""
    cache: dict[str, Path] = {}

    def _build(study: Study, key: str | None = None) -> Path:
        key = key or study.study_id
        if key not in cache:
            cache[key] = deliver(study, tmp_path_factory.mktemp(key.lower()))
        return cache[key]

    return _build


@pytest.fixture(scope="session")
def pilot_db(tmp_path_factory) -> Path:
    """The CDISC pilot (DM, DS, EX, AE as delivered) ingested once a session, with the
    test-only DLT definition (tests/studies.py): the invariants walk the DLT window's states on
    real data, and the shipped pilot configuration (a parallel-group study) defines none."""
    db = tmp_path_factory.mktemp("pilot") / "pilot.duckdb"
    check_loaded(ingest(db, *(PILOT_DIR / f"{d}.csv" for d in ("dm", "ds", "ex", "ae")),
                        studies_dir=PILOT_DIR.parent / "studies_with_dlt"))
    return db
