"""Click-through in a real browser: a click on a real point of each chart type (scatter on a
linear axis, on log axes, on a date axis, a horizontal bar) opens that point's patient in the
same tab, with the study and the data cut-off of the page it was clicked on (issue 17: Labs at
2020-12-31 used to open the patient at 2021-01-15)."""

import re

import pytest
from pageutil import open_as, wait_rendered
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CUTOFF = "2020-12-31"  # not the demo's last data day (2021-01-15): the cut-off must travel

# Where the points of a plotly chart are on the screen (their axes map data to pixels): the
# most isolated one with a subject, so the click cannot hit a neighbour.
POINT_XY = """(chart) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g._fullLayout?.title?.text || '').includes(chart));
  gd.scrollIntoView({block: 'center'});
  const box = gd.getBoundingClientRect(), points = [];
  for (const t of gd._fullData) {
    if (!t.customdata || !t.visible || t.hoverinfo === 'skip') continue;
    const xa = gd._fullLayout[t.xaxis.replace('x', 'xaxis')];
    const ya = gd._fullLayout[t.yaxis.replace('y', 'yaxis')];
    t.customdata.forEach((c, i) => {
      const x = t.type === 'bar' && t.orientation === 'h' ? t.x[i] / 2 : t.x[i];
      points.push({subject: String(c[0]), x: box.left + xa._offset + xa.d2p(x),
                   y: box.top + ya._offset + ya.d2p(t.y[i])});
    });
  }
  const gap = p => Math.min(...points.filter(q => q !== p && q.subject !== p.subject)
                                     .map(q => Math.hypot(q.x - p.x, q.y - p.y)));
  return points.reduce((a, b) => (gap(b) > gap(a) ? b : a), points[0]);
}"""
HOVERED = """(chart) => [...document.querySelectorAll('.js-plotly-plot')]
  .find(g => (g._fullLayout?.title?.text || '').includes(chart))._hoverdata?.[0]?.customdata?.[0]"""


def _click_point(page: Page, chart: str) -> str:
    """Click a point of the chart whose title contains ``chart``; the subject it stands for."""
    expect(page.locator(".js-plotly-plot", has_text=chart).first).to_be_visible(timeout=60000)
    wait_rendered(page, 60000)
    page.wait_for_timeout(1000)  # plotly lays out and binds its events after it appears
    point = page.evaluate(POINT_XY, chart)
    assert point, f"no point with a subject on {chart!r}"
    page.mouse.move(point["x"], point["y"])
    page.wait_for_timeout(300)
    assert page.evaluate(HOVERED, chart) == point["subject"]  # plotly agrees what is under it
    page.mouse.click(point["x"], point["y"])
    try:  # on a cold, loaded server the first chart can redraw (and rebind) just after it shows
        page.wait_for_url(re.compile(r"/patient\?"), timeout=15000)
    except PlaywrightTimeout:
        page.mouse.move(point["x"] + 1, point["y"])
        page.wait_for_timeout(300)
        page.mouse.click(point["x"], point["y"])
    return point["subject"]


def _lands_on_patient(page: Page, subject: str) -> None:
    expect(page.get_by_role("heading", name="Patient")).to_be_visible(timeout=60000)
    wait_rendered(page)
    expect(page).to_have_url(re.compile(rf"subject={re.escape(subject)}"))
    assert f"cutoff={CUTOFF}" in page.url and "study=NCT04232592" in page.url
    cutoff = page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input')
    assert cutoff.input_value() == CUTOFF
    expect(page.get_by_text(subject).first).to_be_visible()
    assert not page.locator('[data-testid="stException"]').count()


@pytest.mark.parametrize(
    ("path", "tab", "chart"),
    [
        ("labs", None, "Alanine Aminotransferase"),  # scatter, one trace per cohort
        ("labs", "eDISH / Hy's law", "eDISH"),  # scatter on log axes
        ("", None, "Enrolment and dosing"),  # scatter on a date axis (Overview)
        ("escalation", None, "DLT windows still open"),  # horizontal bars
    ],
    ids=["labs-time-course", "edish", "overview-dosing", "dlt-clock-bar"],
)
def test_a_click_on_a_point_opens_its_patient_at_the_same_cutoff(page: Page, app_url, path,
                                                                   tab, chart):  # fmt: skip
    open_as(page, f"{app_url}/{path}?study=NCT04232592&cutoff={CUTOFF}", timeout=120000)
    wait_rendered(page, 60000)
    if tab:
        page.get_by_role("tab", name=tab).click()
        wait_rendered(page)
    subject = _click_point(page, chart)
    _lands_on_patient(page, subject)
