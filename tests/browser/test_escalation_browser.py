"""The Dose escalation page in a real browser: cohorts, the design's three views (one drawn at a
time) and the plotly charts render."""

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect


def test_escalation_page_renders_its_charts_and_tables(page: Page, app_url):
    open_as(page, app_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60000)
    wait_rendered(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Dose escalation").click()
    expect(page.get_by_role("heading", name="Dose escalation")).to_be_visible(timeout=60000)
    wait_rendered(page, timeout=60000)
    # the decision table's view is open; the estimates and the dose paths are drawn on demand
    expect(page.get_by_text("marks the current cell").first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() == 1  # the DLT clock
    assert not page.locator(".js-plotly-plot .sunburstlayer path").count()
    page.get_by_role("tab", name="Estimates and designs").click()
    wait_rendered(page, timeout=60000)
    expect(page.locator(".js-plotly-plot .errorbar").first).to_be_attached()
    assert page.locator(".js-plotly-plot .errorbar").count() >= 3  # one per dose
    expect(page.get_by_text("What each design would decide on these data")).to_be_visible()
    page.get_by_role("tab", name="Dose paths").click()
    wait_rendered(page, timeout=60000)
    expect(page.locator(".js-plotly-plot .sunburstlayer path").nth(2)).to_be_attached()
    assert "design_view=Dose+paths" in page.url
    assert page.locator(".js-plotly-plot").count() == 2  # the DLT clock and the dose paths
    expect(page.get_by_role("heading", name="Decision history")).to_be_visible()
    page.get_by_text("Show the decision on every day the data changed").click()  # on demand
    wait_rendered(page, timeout=60000)
    expect(page.locator(".js-plotly-plot").nth(2)).to_be_attached()
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert page.locator('[data-testid="stDataFrame"]').count() >= 4
    for label in ("Low dose", "Medium dose", "High dose"):
        expect(page.get_by_text(label).first).to_be_attached()
    # Streamlit scrolls inside its main container: a tall viewport shows the whole page
    page.set_viewport_size({"width": 1400, "height": 5600})
    wait_rendered(page)
    page.wait_for_timeout(500)  # plotly re-lays out to the new size
    screenshot(page, "escalation")
    assert not page.locator('[data-testid="stException"]').count()
