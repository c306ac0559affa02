"""The patient profile in a real browser: a deep link opens a HIGH-dose DLT patient."""

from datetime import date

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect

from safety import store
from safety.store import queries


def _high_dose_dlt_patient(db) -> str:
    with store.read_connection(db) as con:
        events = queries.dlt.dlt_events(con, "NCT04232592", date(2021, 1, 15))
    return events.loc[events["cohort_id"] == "HIGH", "usubjid"].iloc[-1]


def test_deep_link_opens_the_patient_with_a_rendered_timeline(page: Page, app_url, demo_db):
    usubjid = _high_dose_dlt_patient(demo_db)
    open_as(page, f"{app_url}/patient?subject={usubjid}")
    expect(page.get_by_role("heading", name="Patient", exact=True)).to_be_visible(timeout=60000)
    wait_rendered(page)
    expect(page.get_by_role("heading", name=usubjid)).to_be_visible()
    # the timeline is drawn by plotly; the labs and vital signs wait in their tabs
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() == 1
    timeline = page.locator(".js-plotly-plot").first
    expect(timeline.get_by_text("Timeline")).to_be_visible()
    assert timeline.locator(".bars path").count() >= 1  # the AE bars
    page.get_by_role("tab", name="Key labs").click()
    wait_rendered(page)
    labs = page.locator(".js-plotly-plot")
    expect(labs.first.get_by_text("Key labs", exact=False).first).to_be_visible()
    assert labs.count() == 1 and "patient_chart=Key" in page.url
    # the study followed from the subject, and the link stays shareable
    assert "study=NCT04232592" in page.url and f"subject={usubjid}" in page.url
    expect(page.get_by_text("DLT window: DLT").first).to_be_visible()
    screenshot(page, "patient")
    assert not page.locator('[data-testid="stException"]').count()
