"""The dashboard in a real browser: the overview renders its cohorts and plotly charts."""

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect


def test_overview_shows_the_trial_with_rendered_charts(page: Page, app_url):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    open_as(page, app_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60000)
    wait_rendered(page)
    expect(page.get_by_text("NCT04232592").first).to_be_visible()
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert page.locator(".js-plotly-plot").count() >= 3
    # the cohort table lists the four cohorts
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_be_visible()
    for label in ("Control (vehicle)", "Low dose", "Medium dose", "High dose"):
        expect(page.get_by_text(label).first).to_be_attached()
    # the study stays in the address bar, so the link can be shared
    assert "study=NCT04232592" in page.url
    screenshot(page, "overview")
    assert not page.locator('[data-testid="stException"]').count()
    # nothing is fetched from elsewhere (fonts, icons, favicon): the dashboard works offline
    outside = [u for u in requested if not u.startswith((app_url, "data:", "blob:"))]
    assert not outside, outside
    # viewers get no developer toolbar (Deploy, Rerun): .streamlit/config.toml toolbarMode
    assert page.get_by_role("button", name="Deploy").count() == 0
