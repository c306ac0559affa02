"""Electronic signatures in the dashboard (``safety.access.signatures``): the part of a signed
act's form that says who signs and what the signature means, and the signing itself.

- **Local mode**: the form asks for the demo user's signature password; the act runs at once.
- **Identity provider**: submitting keeps the act on the server (session state and the address
  do not survive the redirect), and sends the user to sign in again with the named provider
  ``[auth.esign]`` of ``.streamlit/secrets.toml`` (``prompt = "login"``, ``max_age = 0``). When
  she comes back, :func:`complete_pending` signs with that fresh sign-in (same subject, new
  ``auth_time``), runs the act, and returns her to the page she signed on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from safety.access import (
    MEANINGS,
    AccessConfig,
    Signature,
    User,
    sign_with_password,
    sign_with_reauthentication,
)
from safety.errors import SafetyError
from safety.escaping import md
from ui import auth, data

ESIGN_PROVIDER = "esign"  # the [auth.esign] section: the same client, forcing a new sign-in


@dataclass(frozen=True)
class PendingAct:
    """A signed act waiting for the signer's re-authentication."""

    act: str
    run: Callable[[Signature], str]  # does the act; returns what to tell the user
    requested_at: datetime
    page: str
    query: dict[str, str]


@st.cache_resource
def _pending() -> dict[str, PendingAct]:
    return {}  # user id -> the act she is signing (one at a time)


_pending_lock = threading.Lock()


def signature_field(config: AccessConfig, user: User, act: str, key: str) -> str | None:
    """Inside a form: the signer and the meaning (21 CFR 11.50), and in local mode the
    signature password (returned)."""
    how = "signature password" if config.local else "sign in again when you submit"
    st.caption(f"Electronic signature of **{md(user.name)}** ({md(user.id)}), meaning "
               f"*{md(MEANINGS[act])}*: {how}.")  # fmt: skip
    if config.local:
        return st.text_input("Signature password", type="password", key=key)
    return None


def sign(config: AccessConfig, user: User, act: str, password: str | None,
         run: Callable[[Signature], str], page: str) -> None:  # fmt: skip
    """Sign ``act`` and run it (local mode), or start the re-authentication that will."""
    if config.local:
        try:
            message = run(sign_with_password(user, MEANINGS[act], password or "", config))
        except SafetyError as exc:
            auth.refusal(exc)
            return
        data.after_write()
        auth.flash("success", message)
        st.rerun()
    now = datetime.now(UTC).replace(tzinfo=None)
    with _pending_lock:
        _pending()[user.id] = PendingAct(act, run, now, page, dict(st.query_params))
    st.login(ESIGN_PROVIDER)
    st.stop()


def complete_pending(config: AccessConfig, user: User) -> None:
    """On every run: finish the signed act the identity provider has just re-authenticated."""
    if config.local or st.user.get("provider") != ESIGN_PROVIDER:
        return
    with _pending_lock:
        pending = _pending().pop(user.id, None)
    if pending is None:
        return
    try:
        signature = sign_with_reauthentication(user, MEANINGS[pending.act], st.user.to_dict(),
                                               pending.requested_at, config)  # fmt: skip
        auth.flash("success", pending.run(signature))
        data.after_write()
    except SafetyError as exc:
        auth.flash("error", str(exc))
    st.switch_page(pending.page, query_params=pending.query)
