"""A real OpenID Connect provider for the sign-in tests (``tests/oidc/provider``: panva's
oidc-provider under Node, installed by ``npm ci``), its users, the dashboard's secrets pointing
at it, and the provider's sign-in page driven in Chromium.

Everything stays on 127.0.0.1. The dashboard's port is chosen first: the provider must know the
redirect URI before it starts.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "tests" / "oidc" / "provider"
CLIENT_ID, CLIENT_SECRET = "dashboard", "dashboard-secret"
COOKIE_SECRET = "test-cookie-secret-at-least-32-bytes-long-0123456789"
TIMEOUT_MS = 30000

# One user per role, in the groups data/access.oidc.example.toml maps (password: login + "-pw").
USERS = {
    "olivia": ("Olivia Officer", ["safety-officers"]),
    "ivan": ("Ivan Investigator", ["nct04232592-investigators-site-01"]),
    "irene": ("Irene Investigator", ["nct04232592-investigators-site-02"]),
    "diane": ("Diane DSMB", ["nct04232592-dsmb"]),
    "sonia": ("Sonia Sponsor", ["nct04232592-study-team"]),
    "dario": ("Dario Data", ["data-managers"]),
    "alex": ("Alex Admin", ["dashboard-admins"]),
    "nobody": ("Nora Nobody", ["another-department"]),
}


@dataclass
class Provider:
    proc: subprocess.Popen
    issuer: str

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def stop(self) -> None:
        """Stop the provider's own process group (started by us), never anything by name."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def start_provider(redirect_uri: str, folder: Path, timeout: float = 30) -> Provider:
    """``node server.mjs`` on a free port; returns once discovery answers."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(f"run `npm ci` in {PROVIDER_DIR} first (.ci/run does)")
    users = folder / "oidc-users.json"
    users.write_text(json.dumps({
        login: {"password": f"{login}-pw", "name": name, "email": f"{login}@example.org",
                "groups": groups}
        for login, (name, groups) in USERS.items()
    }))  # fmt: skip
    env = {**os.environ, "OIDC_PORT": "0", "OIDC_CLIENT_ID": CLIENT_ID,
           "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_REDIRECT_URIS": redirect_uri,
           "OIDC_USERS_FILE": str(users)}  # fmt: skip
    proc = subprocess.Popen(["node", "server.mjs"], cwd=PROVIDER_DIR, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            Provider(proc, "").stop()
            raise RuntimeError("the OIDC provider did not start") from None
        if line.startswith("OIDC_READY "):
            provider = Provider(proc, line.split()[1])
            break
    with urllib.request.urlopen(provider.metadata_url, timeout=10) as answer:
        assert answer.status == 200
    return provider


def write_secrets(path: Path, app_port: int, metadata_url: str) -> Path:
    """The dashboard's ``.streamlit/secrets.toml`` for this provider: sign-in (``[auth]``) and
    re-authentication for signatures (``[auth.esign]``), as the README shows."""
    client = (f'client_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n'
              f'server_metadata_url = "{metadata_url}"\n')  # fmt: skip
    path.write_text(
        f'[auth]\nredirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n{client}'
        'client_kwargs = { scope = "openid email profile groups", prompt = "login" }\n\n'
        f"[auth.esign]\n{client}"
        'client_kwargs = { scope = "openid email profile groups", prompt = "login" }\n'
        "authorize_params = { max_age = 0 }\n"
    )
    return path


def provider_sign_in(page: Page, login: str, password: str | None = None) -> None:
    """On the provider's sign-in page: type the user's name and password."""
    page.wait_for_url(re.compile(r"/interaction/"), timeout=TIMEOUT_MS)
    page.fill("#username", login)
    page.fill("#password", password or f"{login}-pw")
    page.click("#sign-in")


def sign_in(page: Page, app_url: str, login: str) -> None:
    """Sign in to the dashboard through the provider (the authorization-code flow)."""
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click(timeout=TIMEOUT_MS)
    provider_sign_in(page, login)
    page.wait_for_url(re.compile(re.escape(app_url) + r"/?(\?.*)?$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0, timeout=TIMEOUT_MS)
