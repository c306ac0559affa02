"""Scenario databases, built once per test session through the real ingest and reused by the
scenario modules and by the invariant walks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .sdtm import PILOT_DIR, Study, check_loaded, deliver, ingest, safety


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
def demo_db(tmp_path_factory) -> Path:
    """The demo database, built by ``python -m safety demo`` once a session."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    run = safety("demo", "--db", db)
    assert run.returncode == 0, run.stderr
    return db


@pytest.fixture(scope="session")
def pilot_db(tmp_path_factory) -> Path:
    """The CDISC pilot (DM, DS, EX, AE as delivered) ingested once a session."""
    db = tmp_path_factory.mktemp("pilot") / "pilot.duckdb"
    check_loaded(ingest(db, *(PILOT_DIR / f"{d}.csv" for d in ("dm", "ds", "ex", "ae"))))
    return db
