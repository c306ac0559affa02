"""Click-through in a real browser: a click on a real point of each chart type (scatter on a
linear axis, on log axes, on a date axis, a horizontal bar) opens that point's patient in the
same tab, with the study and the data cut-off of the page it was clicked on (issue 17: Labs at
2020-12-31 used to open the patient at 2021-01-15)."""

import re
from urllib.parse import urljoin

import pytest
from pageutil import open_as, wait_rendered
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CUTOFF = "2020-12-31"  # not the demo's last data day (2021-01-15): the cut-off must travel

# Where the points of a plotly chart are on the screen: markers through their axes (data to
# pixels), bars as drawn (each bar's path and the calcdata index d3 bound to it); the most
# isolated one with a subject, so the click cannot hit a neighbour; ``several``: one standing for
# several subjects (else for one).
POINT_XY = """([chart, several]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g._fullLayout?.title?.text || '').includes(chart));
  gd.scrollIntoView({block: 'center'});
  const box = gd.getBoundingClientRect(), points = [];
  for (const t of gd._fullData) {
    if (t.type === 'bar' || !t.customdata || !t.visible || t.hoverinfo === 'skip') continue;
    const xa = gd._fullLayout[t.xaxis.replace('x', 'xaxis')];
    const ya = gd._fullLayout[t.yaxis.replace('y', 'yaxis')];
    t.customdata.forEach((c, i) => {
      points.push({subject: String(c[0]), x: box.left + xa._offset + xa.d2p(t.x[i]),
                   y: box.top + ya._offset + ya.d2p(t.y[i])});
    });
  }
  for (const bar of gd.querySelectorAll('.barlayer .trace .point')) {
    const trace = bar.closest('.trace').__data__[0].trace, r = bar.getBoundingClientRect();
    const c = trace.customdata?.[bar.__data__.i];
    if (c && c[0] && r.width * r.height > 0)
      points.push({subject: String(c[0]), x: r.left + r.width / 2, y: r.top + r.height / 2});
  }
  const shown = points.filter(p => p.subject.includes(';') === several);
  const gap = p => Math.min(...points.filter(q => q !== p && q.subject !== p.subject)
                                     .map(q => Math.hypot(q.x - p.x, q.y - p.y)));
  return shown.reduce((a, b) => (gap(b) > gap(a) ? b : a), shown[0]);
}"""
HOVERED = """(chart) => [...document.querySelectorAll('.js-plotly-plot')]
  .find(g => (g._fullLayout?.title?.text || '').includes(chart))._hoverdata?.[0]?.customdata?.[0]"""


def _click_point(page: Page, chart: str, several: bool = False) -> str:
    """Click a point of the chart whose title contains ``chart`` standing for one subject (it
    opens the patient: wait for that) or ``several``; the subjects, ``;``-joined."""
    expect(page.locator(".js-plotly-plot", has_text=chart).first).to_be_visible(timeout=60000)
    wait_rendered(page, 60000)
    page.wait_for_timeout(1000)  # plotly lays out and binds its events after it appears
    point = page.evaluate(POINT_XY, [chart, several])
    assert point, f"no point with a subject on {chart!r}"
    page.mouse.move(point["x"], point["y"])
    page.wait_for_timeout(300)
    assert page.evaluate(HOVERED, chart) == point["subject"]  # plotly agrees what is under it
    page.mouse.click(point["x"], point["y"])
    if several:
        return point["subject"]
    for _ in range(3):  # on a cold, loaded server a chart can redraw (and rebind) just after it shows
        try:
            page.wait_for_url(re.compile(r"/patient\?"), timeout=5000)
            break
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


@pytest.fixture(scope="module")
def signed_in(browser, app_url) -> Page:
    """One signed-in tab for every case: each opens its page from the sidebar, as a user would
    (a sign-in and a cold first page cost ~10 s each)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    open_as(page, f"{app_url}/?study=NCT04232592&cutoff={CUTOFF}", timeout=120000)
    wait_rendered(page, 60000)
    yield page
    context.close()


def _open(page: Page, title: str, tab: str | None = None) -> None:
    """The page called ``title`` from the sidebar (and its ``tab``)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60000)
    wait_rendered(page, 60000)
    if tab:
        page.get_by_role("tab", name=tab).click()
        wait_rendered(page)


@pytest.mark.parametrize(
    ("title", "tab", "chart"),
    [
        ("Labs", None, "Alanine Aminotransferase"),  # scatter, one trace per cohort
        ("Labs", "eDISH / Hy's law", "eDISH"),  # scatter on log axes
        ("Overview", None, "Enrolment and dosing"),  # scatter on a date axis
        ("Overview", None, "Subjects by worst AE grade"),  # a stacked bar segment of one subject
        ("Dose escalation", None, "DLT windows still open"),  # horizontal bars
    ],
    ids=["labs-time-course", "edish", "overview-dosing", "worst-grade-bar", "dlt-clock-bar"],
)
def test_a_click_on_a_point_opens_its_patient_at_the_same_cutoff(signed_in, title, tab, chart):
    _open(signed_in, title, tab)
    subject = _click_point(signed_in, chart)
    _lands_on_patient(signed_in, subject)


def test_a_bar_of_several_subjects_lists_them_and_each_opens_its_patient(signed_in):
    """A bar of the AEs-by-month chart stands for several subjects: the click lists them all
    (as links carrying the cut-off); the first link opens its patient in a new tab."""
    page = signed_in
    _open(page, "Overview")
    subjects = _click_point(page, "Adverse events by onset month", several=True)
    listed = page.get_by_text(re.compile(r"^Selected \(\d+\):"))
    expect(listed).to_be_visible(timeout=30000)
    names = subjects.split(";")
    assert listed.inner_text().startswith(f"Selected ({len(names)}):")
    links = listed.get_by_role("link")
    assert links.all_inner_texts() == names
    href = links.first.get_attribute("href")
    assert f"cutoff={CUTOFF}" in href and f"subject={names[0]}" in href
    tab = page.context.new_page()  # a new tab is a new session: it signs in, then shows it
    open_as(tab, urljoin(page.url, href))
    _lands_on_patient(tab, names[0])
    tab.close()
