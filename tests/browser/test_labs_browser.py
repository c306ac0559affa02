"""The Labs page in a real browser: plotly time courses, tables and the eDISH render."""

import re

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect


def test_labs_page_renders_charts_tables_and_edish(page: Page, app_url):
    open_as(page, app_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60000)
    wait_rendered(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Labs").click()
    expect(page.get_by_role("heading", name="Labs")).to_be_visible(timeout=60000)
    wait_rendered(page)
    expect(page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"]').first).to_be_visible()
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    # one time course, of the test picked (the first chosen); another is one click away
    assert page.locator(".js-plotly-plot").count() == 1
    expect(page.locator(".js-plotly-plot", has_text="Alanine Aminotransferase")).to_be_visible()
    page.locator('[data-testid="stRadio"]').get_by_text(re.compile(r"^PLAT\b")).click()
    wait_rendered(page)
    expect(page.locator(".js-plotly-plot", has_text="Platelets")).to_be_visible()
    assert "study=NCT04232592" in page.url
    screenshot(page, "labs")

    page.get_by_role("tab", name="eDISH / Hy's law").click()
    wait_rendered(page)
    edish = page.locator(".js-plotly-plot", has_text="eDISH")
    expect(edish).to_be_visible()
    expect(edish.locator(".xaxislayer-above").first).to_be_attached()
    expect(page.get_by_text("Potential Hy's law cases").first).to_be_visible()
    screenshot(page, "labs_edish")
    assert not page.locator('[data-testid="stException"]').count()
