"""Shared fixtures: one demo database per test session, built by the real generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.demo import generator as demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A freshly built default demo database (NCT04232592, default seed). Treat as read-only."""
    path = tmp_path_factory.mktemp("demo") / "safety.duckdb"
    demo.build_demo(path)
    return path
