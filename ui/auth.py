"""Who is using the dashboard: sign-in with the identity provider (``st.login`` / ``st.user``,
``.streamlit/secrets.toml``) or, in local mode, one of the fixed demo users; the banners every
page shows (local mode, a broken audit trail, the outcome of the last act); sign-out.

The user found here (``safety.access.User``) is what every page passes to the library, which
decides what it may read and do. Nobody is signed in until they sign in: an anonymous visitor
sees the sign-in page only.
"""

from __future__ import annotations

import streamlit as st

from safety.access import ROLE_TITLES, AccessConfig, User, load_access_config
from safety.errors import ConfigError, SafetyError

LOCAL_USER_KEY = "local_user"  # session state: the demo user signed in (local mode)
FLASH_KEY = "auth_flash"  # session state: (kind, message) to show once, on the next run
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def access_config() -> AccessConfig:
    """The access configuration (``$SAFETY_ACCESS`` or ``data/access.toml``); a bad one stops
    the page with its one-line message."""
    try:
        config = load_access_config()
    except ConfigError as exc:
        st.error(f"Sign-in is not configured: {exc}", icon=":material/lock:")
        st.stop()
    problem = _mode_problem(config)
    if problem:
        st.error(problem, icon=":material/lock:")
        st.stop()
    return config


def _has_identity_provider() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all (StreamlitSecretNotFoundError is one)
        return False


def _mode_problem(config: AccessConfig) -> str | None:
    """Why the configured sign-in cannot run here, if it cannot."""
    provider = _has_identity_provider()
    if config.local:
        if provider:
            return (f"{config.source} says local mode, but .streamlit/secrets.toml configures an "
                    "identity provider ([auth]): choose one (mode = \"oidc\" to use it)")  # fmt: skip
        address = st.get_option("server.address")
        if address not in LOOPBACK:
            return ("Local mode has no sign-in, so it serves this computer only: set "
                    f"server.address to 127.0.0.1 (it is {address or 'every address'}), or "
                    "configure an identity provider")  # fmt: skip
    elif not provider:
        return (f"{config.source} asks for sign-in with an identity provider, but "
                ".streamlit/secrets.toml has no [auth] section (README: Sign-in)")  # fmt: skip
    return None


def signed_in_user(config: AccessConfig) -> User | None:
    """The signed-in user, None when nobody is."""
    if config.local:
        uid = st.session_state.get(LOCAL_USER_KEY)
        try:
            return config.local_user(uid) if uid else None
        except ConfigError:  # the configuration changed under the session: sign in again
            st.session_state.pop(LOCAL_USER_KEY, None)
            return None
    if not st.user.is_logged_in:
        return None
    try:
        return config.user_from_claims(st.user.to_dict())
    except ConfigError as exc:
        st.error(str(exc), icon=":material/lock:")
        st.stop()


def sign_in_page(config: AccessConfig) -> None:
    """The only thing an anonymous visitor sees; stops the run."""
    st.title("Dose-escalation safety monitor")
    if config.local:
        local_banner()
        users = {u.id: config.local_user(u.id) for u in config.local_users}
        st.markdown("Sign in as one of the demo users to try what each role may see and do.")
        uid = st.selectbox(
            "Demo user", list(users), key="local_user_picker",
            format_func=lambda u: f"{users[u].name}: {_roles(users[u])}",
        )  # fmt: skip
        st.caption("Electronic signatures ask for the user's signature password: "
                   "`demo-signature` for every demo user.")  # fmt: skip
        if st.button("Sign in", type="primary", icon=":material/login:", key="local_sign_in"):
            st.session_state[LOCAL_USER_KEY] = uid
            st.rerun()
    else:
        st.markdown("Sign in with your organisation's account to continue.")
        st.button("Sign in", type="primary", icon=":material/login:", key="oidc_sign_in",
                  on_click=st.login)  # fmt: skip
    st.stop()


def local_banner() -> None:
    st.warning(
        "**Local mode**: no identity provider, fixed demo users, served on this computer "
        "only. Not for real trial data.",
        icon=":material/science:",
    )


def banners(config: AccessConfig, trail) -> None:
    """What every page says first: local mode, a broken audit trail, the last act's outcome."""
    if config.local:
        local_banner()
    if trail is not None and not trail.ok:
        st.error(f"**{trail.describe()}.** The record cannot be trusted until this is "
                 "investigated (python -m safety audit verify).",
                 icon=":material/gpp_bad:")  # fmt: skip
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, text = flash
        (st.success if kind == "success" else st.error)(text, icon=":material/draw:")


def flash(kind: str, text: str) -> None:
    """A message for the next run (an act's outcome survives the rerun that shows it)."""
    st.session_state[FLASH_KEY] = (kind, text)


def sign_out_button(config: AccessConfig) -> None:
    """In the sidebar: sign out (local mode: back to the picker; else the provider's logout)."""
    if config.local:
        if st.sidebar.button("Sign out", icon=":material/logout:", key="sign_out"):
            st.session_state.pop(LOCAL_USER_KEY, None)
            st.rerun()
    else:
        st.sidebar.button("Sign out", icon=":material/logout:", key="sign_out", on_click=st.logout)


def _roles(user: User) -> str:
    roles = sorted({g.role for g in user.grants}, key=list(ROLE_TITLES).index)
    return ", ".join(ROLE_TITLES[r] for r in roles) or "no role"


def refusal(exc: SafetyError) -> None:
    """Show a refusal or a failed act as one line."""
    st.error(str(exc), icon=":material/block:")
