"""Shared fixtures: one demo database per test session, built by the real generator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safety.demo import generator as demo

# The files that take longest (a real browser, several deliveries, subprocesses) start first:
# with ``--dist loadfile`` a worker that picks one of them last keeps the other one idle.
SLOW_FILES = ("test_delivery_campaign.py", "test_reports_page.py", "test_ingest_concurrency.py",
              "test_watch.py", "test_live_demo.py", "test_report.py", "test_data_alerts_pages.py",
              "test_invariants.py", "test_ctcae_sql.py")  # fmt: skip


def pytest_collection_modifyitems(items):
    def order(item) -> int:
        if "browser" in item.path.parts:
            return 0
        return 1 if item.path.name in SLOW_FILES else 2

    items.sort(key=order)  # stable: the order inside a file is kept

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "safety.duckdb"
    demo.build_demo(path)
    return path


@pytest.fixture
def fresh_demo(_demo_template, tmp_path) -> Path:
    """A demo database of the test's own, for tests that write: a copy of one built per
    session (a build takes 1.5-2 s, a copy of the closed file a few ms)."""
    path = tmp_path / "safety.duckdb"
    shutil.copyfile(_demo_template, path)
    return path


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A freshly built default demo database (NCT04232592, default seed). Treat as read-only."""
    path = tmp_path_factory.mktemp("demo") / "safety.duckdb"
    demo.build_demo(path)
    return path


@pytest.fixture(scope="session")
def payload_db(tmp_path_factory) -> Path:
    """The demo after an AE delivery whose terms are ``payloads.PAYLOADS``: every AE of
    PAYLOAD_SUBJECT (her SAE is a DLT candidate) and the other SAEs (so alerts carry them).
    Treat as read-only."""
    import people
    from payloads import PAYLOAD_SUBJECT, PAYLOADS

    from safety import pipeline
    from safety.demo.live import LiveFeed

    folder = tmp_path_factory.mktemp("payload")
    db = folder / "safety.duckdb"
    pipeline.build_demo(db)  # with the alert baseline: the delivery's SAEs are news
    ae = LiveFeed().exports()["AE"]
    hers = list(ae.index[ae["USUBJID"] == PAYLOAD_SUBJECT])  # every payload on her page ...
    others = [i for i in ae.index[ae["AESER"] == "Y"] if i not in hers]  # ... and in alerts
    for i, row in enumerate(hers):
        ae.loc[row, ["AETERM", "AEDECOD"]] = PAYLOADS[i % len(PAYLOADS)]
    for i, row in enumerate(others):
        ae.loc[row, ["AETERM", "AEDECOD"]] = PAYLOADS[-1 - i]
    ae.to_csv(folder / "ae.csv", index=False)
    delivery = pipeline.deliver_paths([folder / "ae.csv"], db=db, user=people.DATA_MANAGER)
    assert [r.status for r in delivery.results] == ["loaded"], delivery.results
    return db
