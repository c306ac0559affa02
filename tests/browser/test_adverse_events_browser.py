"""The Adverse events page in a real browser: tables and plotly charts render, a cell drills down."""

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect


def _open_page(page: Page, app_url: str) -> None:
    open_as(page, app_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60000)
    wait_rendered(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Adverse events").click()
    expect(page.get_by_role("heading", name="Adverse events")).to_be_visible(timeout=60000)
    wait_rendered(page)


def _open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_rendered(page)


def test_adverse_events_page_renders_tables_and_charts(page: Page, app_url):
    _open_page(page, app_url)
    # tables are drawn on a canvas (glide data grid): check the grid and its caption
    expect(page.get_by_text("n (%) = subjects with at least one such event").first).to_be_visible()
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables.first).to_be_visible()
    screenshot(page, "adverse_events_summary")

    _open_tab(page, "SOC / PT")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert page.locator(".js-plotly-plot .bars path").count() > 10
    page.locator(".js-plotly-plot:visible").first.scroll_into_view_if_needed()
    screenshot(page, "adverse_events_soc_pt")

    _open_tab(page, "Compared with control")
    expect(page.get_by_text("Small numbers.").first).to_be_visible()
    plots = page.locator('[data-testid="stPlotlyChart"]:visible .js-plotly-plot')
    expect(plots.first).to_be_visible()
    assert plots.count() == 2  # forest and volcano
    plots.first.scroll_into_view_if_needed()
    screenshot(page, "adverse_events_control")

    _open_tab(page, "Timing")
    plots = page.locator('[data-testid="stPlotlyChart"]:visible .js-plotly-plot')
    expect(plots.nth(2)).to_be_visible()
    assert plots.count() == 3  # curves, histogram, heatmap
    plots.nth(2).scroll_into_view_if_needed()
    screenshot(page, "adverse_events_timing")


def test_clicking_a_bar_lists_its_events_with_patient_links(page: Page, app_url):
    _open_page(page, app_url)
    _open_tab(page, "SOC / PT")
    bar = page.locator('[data-testid="stPlotlyChart"]:visible .bars path').first
    expect(bar).to_be_visible()
    bar.click(force=True)
    wait_rendered(page)
    heading = page.get_by_text("subjects,").first
    expect(heading).to_be_visible(timeout=15000)
    listing = page.locator('[data-testid="stDataFrame"]:visible').last
    listing.scroll_into_view_if_needed()  # the app scrolls inside its own container
    expect(listing).to_be_visible()
    screenshot(page, "adverse_events_drilldown")
