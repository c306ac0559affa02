"""In a real browser, data never render as links, images or HTML: adverse-event terms that are
markdown links, images, HTML and formulas (``tests/payloads.py``) show as typed on the patient
page (text, charts, listings) and in the sidebar's alert feed (AppTest checks the other
pages' markdown: tests/test_inert_outputs.py)."""

from __future__ import annotations

import os
import re

import pytest
from pageutil import open_as, screenshot, start_dashboard, stop, wait_rendered
from payloads import PAYLOAD_SUBJECT
from playwright.sync_api import Page, expect

# What a rendered payload would leave in the page: a link, an image, an element from data.
RENDERED = 'a[href*="evil"], img[src*="evil"], img[src="x"], [onerror]'


@pytest.fixture(scope="module")
def payload_url(payload_db, tmp_path_factory):
    env = {**os.environ, "SAFETY_DB": str(payload_db)}
    proc, url = start_dashboard(env, tmp_path_factory.mktemp("payload") / "streamlit.log")
    yield url
    stop(proc)


def _inert(page: Page) -> None:
    wait_rendered(page)
    assert page.locator(RENDERED).count() == 0
    assert page.locator(".js-plotly-plot svg a").count() == 0  # plotly links <a href> text


def test_payloads_show_as_text_on_the_patient_page_and_in_the_alert_feed(page: Page, payload_url):
    open_as(page, f"{payload_url}/patient?subject={PAYLOAD_SUBJECT}")
    expect(page.get_by_role("heading", name=PAYLOAD_SUBJECT)).to_be_visible(timeout=60000)
    _inert(page)
    narrative = page.get_by_text("[Click here](http://evil.example/phish)").first
    expect(narrative).to_be_attached()  # the term reads as typed
    ticks = page.locator(".js-plotly-plot .ytick text").all_text_contents()
    assert any(t.endswith("<a href='http://evil.io'>x</a>") for t in ticks), ticks  # as text
    sidebar = page.locator('[data-testid="stSidebar"]')  # the alert feed, as markdown
    sidebar.get_by_text("Latest alerts").click()
    expect(sidebar.get_by_text(re.compile(r"cmd\|' /C calc'!A0")).first).to_be_visible()
    _inert(page)
    screenshot(page, "payload_patient")
    assert not page.locator('[data-testid="stException"]').count()
