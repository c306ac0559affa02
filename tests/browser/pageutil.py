"""Helpers for browser tests: start the dashboard, sign in, wait for a Streamlit page to finish,
save a screenshot."""

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(env: dict, log_path: Path, secrets: Path | None = None,
                    port: int | None = None) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """`streamlit run dashboard.py` on a free port (or ``port``) with ``env``; returns
    (process, url) once /_stcore/health answers ok. The server's output goes to ``log_path``.

    Secrets come from ``secrets`` only (default: an empty file beside the log), never from a
    developer's ``.streamlit/secrets.toml``.
    """
    port = port or free_port()
    if secrets is None:
        secrets = log_path.with_name(log_path.stem + ".secrets.toml")
        secrets.write_text("")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py",
             "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--secrets.files", str(secrets)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError("streamlit did not start: " + log_path.read_text()) from None
            time.sleep(0.2)


def stop(*procs: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate the processes (already signalled ones too) and wait; kill what hangs."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def open_as(page, url: str, name: str = "Sam Safety", timeout: float = 60000) -> None:
    """Open ``url`` and sign in at local mode's sign-in page as the demo user called ``name``;
    the same address then shows the page it names."""
    from playwright.sync_api import expect

    sign_in = sign_in_form(page, url, name, timeout)
    sign_in.click()
    expect(sign_in).to_have_count(0, timeout=timeout)


def sign_in_form(page, url: str, name: str, timeout: float = 60000):
    """Open ``url`` and fill local mode's sign-in form for ``name``; its Sign in button."""
    from playwright.sync_api import expect

    page.goto(url)
    sign_in = page.get_by_role("button", name="Sign in")
    expect(sign_in).to_be_visible(timeout=timeout)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile("^" + re.escape(name) + ":")).click()
    return sign_in


def wait_rendered(page, timeout: float = 30000) -> None:
    """Wait until the script has finished and nothing on the page is stale."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout
    )
    page.wait_for_function(
        '() => !document.querySelector(\'[data-stale="true"], [data-testid="stSkeleton"]\')',
        timeout=timeout,
    )


# Streamlit scrolls inside its main block, not the document: a "full page" screenshot is one
# window high unless the window is made as tall as the content first.
CONTENT_HEIGHT = """() => Math.max(...[...document.querySelectorAll(
  '[data-testid="stMain"], [data-testid="stMainBlockContainer"], [data-testid="stSidebarContent"]')]
  .map(e => e.scrollHeight), document.body.scrollHeight)"""


def screenshot(page, name: str) -> Path:
    """Save a PNG of the whole page (window made as tall as the content) under test-artifacts/
    for a person to look at; the window size is restored after."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(page.evaluate(CONTENT_HEIGHT) + 40, 30000)})
    page.wait_for_timeout(500)  # charts re-lay out to the new window
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
