"""The Dose escalation page in a real browser: cohorts, decision table and plotly charts render."""

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect


def test_escalation_page_renders_its_charts_and_tables(page: Page, app_url):
    open_as(page, app_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60000)
    wait_rendered(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Dose escalation").click()
    expect(page.get_by_role("heading", name="Dose escalation")).to_be_visible(timeout=60000)
    wait_rendered(page, timeout=60000)
    expect(page.get_by_role("heading", name="Decision history")).to_be_visible()
    page.get_by_text("Show the decision on every day the data changed").click()  # on demand
    wait_rendered(page, timeout=60000)
    expect(page.locator(".js-plotly-plot").nth(3)).to_be_attached()
    # DLT clock, estimates, dose paths and decision history
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() >= 4
    # the sunburst drew its sectors, the estimates their error bars
    assert page.locator(".js-plotly-plot .sunburstlayer path").count() >= 3
    assert page.locator(".js-plotly-plot .errorbar").count() >= 3
    assert page.locator('[data-testid="stDataFrame"]').count() >= 5
    for label in ("Low dose", "Medium dose", "High dose"):
        expect(page.get_by_text(label).first).to_be_attached()
    expect(page.get_by_text("marks the current cell").first).to_be_visible()
    # Streamlit scrolls inside its main container: a tall viewport shows the whole page
    page.set_viewport_size({"width": 1400, "height": 5600})
    wait_rendered(page)
    page.wait_for_timeout(500)  # plotly re-lays out to the new size
    screenshot(page, "escalation")
    assert not page.locator('[data-testid="stException"]').count()
