"""Sign-in through a real OpenID Connect provider (panva's oidc-provider, started here on
127.0.0.1) with the real authorization-code flow in Chromium, as each role of
``data/access.oidc.example.toml``: which pages each role has, what each may do on them, an
anonymous visitor, and an electronic signature by re-authentication.

The library-level role x action matrix (every act and read, every role) is
``tests/test_access.py``; this shows the same matrix on screen, one sign-in per role.
"""

from __future__ import annotations

import os
import re
import shutil

import pandas as pd
import pytest
from idp import PROVIDER_DIR, provider_sign_in, sign_in, start_provider, write_secrets
from pageutil import ROOT, free_port, screenshot, start_dashboard, stop, wait_rendered
from playwright.sync_api import Page, expect

from safety import store
from safety.monitor import alerts
from safety.store import queries

STUDY = "NCT04232592"
ALL_PAGES = ["Overview", "Dose escalation", "Adverse events", "Labs", "Patient",
             "DSMB reports", "Data", "Alerts", "Users and roles"]  # fmt: skip
# Who has which page in the menu (README "Roles"): a page not listed is not served to them.
MENU = {
    "olivia": ["Overview", "Dose escalation", "Adverse events", "Labs", "Patient",
               "DSMB reports", "Data", "Alerts"],  # safety officer
    "ivan": ["Overview", "Patient", "DSMB reports"],  # investigator, site 01
    "irene": ["Overview", "Patient", "DSMB reports"],  # investigator, site 02
    "diane": ["Overview", "Dose escalation", "Adverse events", "Labs", "Patient",
              "DSMB reports", "Alerts"],  # DSMB member
    "sonia": ["Overview", "DSMB reports"],  # sponsor / study team
    "dario": ["Overview", "DSMB reports", "Data"],  # data manager
    "alex": [],  # administrator: one page, "Users and roles", so no menu
}  # fmt: skip
COHORT_LABELS = ("Low dose", "Medium dose", "High dose")
PROVIDER_INSTALLED = (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir()


@pytest.fixture(scope="module")
def oidc_app(demo_db, tmp_path_factory):
    """The dashboard on a copy of the demo, signing in with the provider."""
    if not PROVIDER_INSTALLED and not os.environ.get("REQUIRE_BROWSER"):
        pytest.skip(f"the test identity provider is not installed: npm ci --prefix {PROVIDER_DIR}")
    folder = tmp_path_factory.mktemp("oidc")
    db = shutil.copy(demo_db, folder / "safety.duckdb")  # the signature test writes to it
    alerts.refresh_alerts(db)  # the baseline, and one open alert to acknowledge (or not)
    with store.write_connection(db) as con:
        queries.database.insert_frame(con, "alert", pd.DataFrame([{
            "study_id": STUDY, "alert_key": "sae|test", "kind": "sae", "severity": "critical",
            "raised_at": store.now(), "batch_id": 1, "title": "SAE: Endometritis (test)",
        }]))  # fmt: skip
    port = free_port()
    provider = start_provider(f"http://127.0.0.1:{port}/oauth2callback", folder)
    secrets = write_secrets(folder / "secrets.toml", port, provider.metadata_url)
    env = {**os.environ, "SAFETY_DB": str(db),
           "SAFETY_ACCESS": str(ROOT / "data" / "access.oidc.example.toml")}  # fmt: skip
    try:
        server, url = start_dashboard(env, folder / "streamlit.log", secrets=secrets, port=port)
    except Exception:
        provider.stop()
        raise
    yield {"url": url, "db": db}
    stop(server)
    provider.stop()


def _menu(page: Page, pages: int) -> list[str]:
    """The page titles in the sidebar menu, drawn before the first page has run (Streamlit
    shows no menu for a single page)."""
    links = page.locator('[data-testid="stSidebarNav"] a')
    if pages > 1:
        expect(links.nth(pages - 1)).to_be_attached(timeout=30000)
    else:
        wait_rendered(page)
    return [t.strip().splitlines()[-1] for t in links.all_inner_texts()]  # after the icon


def _open(page: Page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=30000)
    wait_rendered(page)


def test_an_anonymous_visitor_sees_only_the_sign_in_page(page: Page, oidc_app):
    for path in ("/patient?subject=NCT04232592-01-026",):  # a deep link
        page.goto(oidc_app["url"] + path)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30000)
        wait_rendered(page)
        body = page.locator('[data-testid="stApp"]').inner_text()
        assert "NCT04232592" not in body and "Overview" not in body
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert page.locator('[data-testid="stDataFrame"], .js-plotly-plot').count() == 0


@pytest.mark.parametrize("login", list(MENU))
def test_each_role_has_its_pages_and_only_what_it_may_do(page: Page, oidc_app, login):
    sign_in(page, oidc_app["url"], login)
    assert _menu(page, len(MENU[login])) == MENU[login]
    for title in set(ALL_PAGES) - set(MENU[login]):  # not served at all: the menu is the list
        assert page.locator('[data-testid="stSidebarNav"] a', has_text=title).count() == 0
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text(re.compile(r"Signed in as"))).to_contain_text(f"({login})")
    CHECKS[login](page, oidc_app)
    assert not page.locator('[data-testid="stException"]').count()


def _safety_officer(page: Page, app) -> None:
    _open(page, "Alerts")
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("Alerts: 1")).to_be_visible()
    expect(page.get_by_role("button", name="Sign and acknowledge")).to_be_visible()


def _investigator(sees_patients: bool):
    def check(page: Page, app) -> None:
        _open(page, "Patient")
        assert page.locator('[data-testid="stSidebar"]').get_by_text("Alerts:").count() == 0
        if sees_patients:  # site 01: the demo's single centre
            expect(page.get_by_role("heading", name=re.compile(r"NCT04232592-01-"))).to_be_visible()
            expect(page.get_by_text("Add a DLT by hand").first).to_be_attached()
            expect(page.get_by_role("button", name="Save review")).to_be_attached()
        else:
            expect(page.get_by_text(re.compile("no subjects at your sites"))).to_be_visible()

    return check


def _dsmb(page: Page, app) -> None:
    _open(page, "Alerts")  # she reads the alerts, by cohort, and acknowledges none
    expect(page.get_by_text("Acknowledging alerts is for safety officers")).to_be_visible()
    assert page.get_by_text("Sign and acknowledge").count() == 0


def _sponsor(page: Page, app) -> None:
    wait_rendered(page)
    expect(page.get_by_text("pooled over all its cohorts").first).to_be_visible()
    expect(page.get_by_text("All cohorts").first).to_be_attached()
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert not any(label in text for label in COHORT_LABELS)
    screenshot(page, "sign_in_sponsor_overview")
    _open(page, "DSMB reports")
    expect(page.get_by_text("Open (pooled)")).to_be_visible()
    assert page.get_by_text("Closed (by cohort)").count() == 0


def _data_manager(page: Page, app) -> None:
    _open(page, "Data")
    expect(page.get_by_role("button", name="Load", exact=True)).to_be_enabled()


def _admin(page: Page, app) -> None:
    wait_rendered(page)
    expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
    expect(page.get_by_text("audit trail intact")).to_be_visible()


CHECKS = {
    "olivia": _safety_officer, "ivan": _investigator(True), "irene": _investigator(False),
    "diane": _dsmb, "sonia": _sponsor, "dario": _data_manager, "alex": _admin,
}  # fmt: skip


def test_a_user_without_a_role_is_told_so(page: Page, oidc_app):
    sign_in(page, oidc_app["url"], "nobody")
    expect(page.get_by_text("has no role in any study")).to_be_visible(timeout=30000)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def test_an_adjudication_is_signed_by_signing_in_again(page: Page, oidc_app):
    with store.read_connection(oidc_app["db"]) as con:
        usubjid, seq = con.execute(
            "SELECT usubjid, source_seq FROM dlt_event($s, DATE '2021-01-15') "
            "WHERE source = 'adverse_event' ORDER BY usubjid LIMIT 1", {"s": STUDY}
        ).fetchone()
    sign_in(page, oidc_app["url"], "olivia")
    page.goto(f"{oidc_app['url']}/patient?subject={usubjid}")
    expect(page.get_by_role("heading", name=usubjid)).to_be_visible(timeout=30000)
    wait_rendered(page)
    form = page.locator('[data-testid="stForm"]', has_text="Sign and record adjudication").first
    form.get_by_label("Reason (required, kept in the audit log)").fill(
        "Grade 3 infection in the window; I agree with the protocol rule")
    form.get_by_role("button", name="Sign and record adjudication").click()
    # the provider asks for the password again although Olivia is signed in (prompt=login)
    provider_sign_in(page, "olivia")
    expect(page.get_by_text(re.compile("signed: Olivia Officer, .*I confirm this event as a DLT"))
           ).to_be_visible(timeout=30000)  # fmt: skip
    assert f"subject={usubjid}" in page.url  # back on the page she signed on
    with store.read_connection(oidc_app["db"]) as con:
        (method, signer, meaning) = con.execute(
            "SELECT g.method, g.signed_by, g.meaning FROM dlt_adjudication a "
            "JOIN signature g USING (signature_id) WHERE a.usubjid = $u", {"u": usubjid}
        ).fetchone()
    assert (method, signer, meaning) == ("reauthentication", "olivia",
                                         "I confirm this event as a DLT")  # fmt: skip
    screenshot(page, "sign_in_signed_adjudication")
    page.get_by_role("button", name="Sign out").click()  # RP-initiated logout at the provider
    page.click("#logout-yes", timeout=30000)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30000)
