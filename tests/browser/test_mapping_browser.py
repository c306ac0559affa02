"""A site's non-standard export on the Data page, in a real browser (issue 18): the preview
shows what maps and what would be quarantined before anything loads, then the DM export loads
through the study's mapping and the AE export's preview counts the row its mapping cannot place.

The export and the mapping are those of tests/test_mapping.py (the CDISC pilot's DM and AE with
renamed columns and local codes; credit CDISC).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pageutil import open_as, screenshot, start_dashboard, stop, wait_rendered
from playwright.sync_api import expect

from safety import store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_mapping import mapped_study_folder, site_export  # noqa: E402


@pytest.fixture(scope="module")
def site_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mapping_browser")
    db = folder / "site.duckdb"
    with store.new_database(db):  # an empty database: no demo is built
        pass
    env = {**os.environ, "SAFETY_DB": str(db),
           "SAFETY_STUDIES": str(mapped_study_folder(folder / "studies"))}
    proc, url = start_dashboard(env, folder / "streamlit.log")
    yield {"url": url, **site_export(folder)}
    stop(proc)


def _choose(page, path: Path) -> None:
    chooser = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    chooser.set_input_files([])  # the form cleared it: the same file again must be a change
    chooser.set_input_files(str(path))
    expect(page.get_by_role("button", name=f"Remove {path.name}")).to_be_visible(timeout=30000)


def test_preview_then_the_export_loads_through_its_mapping(page, site_server):
    open_as(page, site_server["url"] + "/data", name="Dan Data")
    expect(page.get_by_role("heading", name="Data")).to_be_visible(timeout=60000)
    wait_rendered(page)

    _choose(page, site_server["dm"])
    page.get_by_role("button", name="Preview: load nothing").click()
    expect(page.get_by_role("heading", name="Preview of demographics_export.csv")).to_be_visible(
        timeout=60000)
    wait_rendered(page)
    expect(page.get_by_text("non-standard, domain DM, DM mapping, study CDISCPILOT01")
           ).to_be_visible()
    expect(page.get_by_text("306 rows read; 0 would be quarantined.")).to_be_visible()
    expect(page.get_by_text("Nothing was loaded.")).to_be_visible()
    screenshot(page, "data_mapping_preview")

    _choose(page, site_server["dm"])
    page.get_by_role("button", name="Load", exact=True).click()
    expect(page.get_by_text("demographics_export.csv (DM, CDISCPILOT01): loaded, 306 rows in, "
                            "306 loaded, 0 quarantined")).to_be_visible(timeout=90000)

    wait_rendered(page)
    _choose(page, site_server["ae"])
    page.get_by_role("button", name="Preview: load nothing").click()
    # against the DM just loaded: one event's seriousness is a code the mapping does not know
    expect(page.get_by_text("1191 rows read; 1 would be quarantined.")).to_be_visible(
        timeout=60000)
    screenshot(page, "data_mapping_ae_preview")
    # (loading the AE export through its mapping: tests/test_mapping.py, test 5)
