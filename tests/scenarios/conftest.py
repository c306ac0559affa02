"""Scenario databases, built once per test session through the real ingest and reused by the
scenario modules and by the invariant walks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .sdtm import Study, deliver


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
