"""Helpers for browser tests: wait for a Streamlit page to finish, save a screenshot."""

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


def start_dashboard(env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard.py` on a free port with ``env``; returns (process, url) once
    /_stcore/health answers ok. The server's output goes to ``log_path``."""
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py",
             "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
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


def wait_rendered(page, timeout: float = 30000) -> None:
    """Wait until the script has finished and nothing on the page is stale."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout
    )
    page.wait_for_function(
        '() => !document.querySelector(\'[data-stale="true"], [data-testid="stSkeleton"]\')',
        timeout=timeout,
    )


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
