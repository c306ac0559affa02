"""The DSMB reports page in a real browser: build the closed report, see the preview, download
the PDF."""

from pageutil import open_as, screenshot, wait_rendered
from playwright.sync_api import Page, expect


def test_reports_page_builds_and_downloads_the_closed_report(page: Page, app_url):
    open_as(page, app_url + "/reports")
    expect(page.get_by_role("heading", name="DSMB reports")).to_be_visible(timeout=60000)
    wait_rendered(page)
    page.get_by_text("Closed (by cohort)").click()
    wait_rendered(page)
    page.get_by_role("button", name="Build report").click()
    expect(page.get_by_text("Closed report at 15 Jan 2021")).to_be_visible(timeout=90000)
    wait_rendered(page, timeout=60000)
    # the preview is the self-contained HTML report in an iframe
    preview = page.frame_locator("iframe").first
    expect(preview.get_by_text("CLOSED REPORT").first).to_be_visible(timeout=30000)
    expect(preview.locator("img").first).to_be_visible()
    screenshot(page, "reports")
    with page.expect_download(timeout=30000) as download:
        page.get_by_role("button", name="PDF").click()
    pdf = download.value
    assert pdf.suggested_filename == "dsmb-closed-NCT04232592-2021-01-15.pdf"
    with open(pdf.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert not page.locator('[data-testid="stException"]').count()
