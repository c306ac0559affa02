"""Real-browser fixtures: Debian's Chromium driven by Playwright against `streamlit run`.

Never downloads a browser (no `playwright install`): pytest-playwright's launch arguments are
overridden to use /usr/bin/chromium. When Chromium is missing the tests skip, unless
REQUIRE_BROWSER is set (CI sets it), in which case they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pageutil import start_dashboard, stop

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("BROWSER_PATH", "/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.exit(f"REQUIRE_BROWSER is set but Chromium is missing at {CHROMIUM}", returncode=1)
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="session")
def app_url(demo_db):
    """The dashboard served by a real `streamlit run` on the session's demo database."""
    env = {**os.environ, "SAFETY_DB": str(demo_db)}
    proc, url = start_dashboard(env, demo_db.parent / "streamlit.log")
    yield url
    stop(proc)
