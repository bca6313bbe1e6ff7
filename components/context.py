"""Per-session access to the backend, the signed-in user and the authenticator.

The backend is process-wide and carries no identity (st.cache_resource). Who is
signed in, and their time zone, live in st.session_state only.
"""

from __future__ import annotations

import time

import streamlit as st

from portal.auth import CurrentUser, DatabaseCredentials
from portal.config import Settings, environment_key
from portal.db import Backend, open_backend
from portal.profiles import load_my_profile

_TIMEZONE_KEY = "portal_my_timezone"
TIMEZONE_REFRESH_SECONDS = 300  # a zone changed from another browser shows here within five minutes


def settings() -> Settings:
    """The portal's settings, read once per process for each environment and secrets file (app.py asks several
    times per rerun; reading them resolves paths on disk). Not per user: the same for every session."""
    try:
        secrets = dict(st.secrets)
    except Exception:  # no secrets.toml: local mode reads the environment
        secrets = {}
    return _settings_for(environment_key(), repr(sorted(secrets.items())), secrets)


@st.cache_resource(show_spinner=False)
def _settings_for(environment: tuple[str | None, ...], secrets_key: str, _secrets: dict) -> Settings:
    """`environment` and `secrets_key` are only the cache key: a changed environment (tests) or secrets file is
    read again."""
    return Settings.load(_secrets)


@st.cache_resource(show_spinner="Starting the portal's database…")
def backend() -> Backend:
    return open_backend(settings())


def current_user() -> CurrentUser | None:
    return st.session_state.get("portal_user")


def require_user() -> CurrentUser:
    user = current_user()
    if user is None:
        st.warning("Please sign in first.")
        st.stop()
    return user


def credentials() -> DatabaseCredentials:
    return st.session_state["portal_credentials"]


def authenticator():
    return st.session_state["portal_authenticator"]


def my_timezone(backend: Backend, user: CurrentUser) -> str:
    """The member's time zone (IANA name), read once and kept in this session's state under their id.

    Pages that only need the zone to show times call this instead of fetching the whole profile on every run.
    My profile and My availability, where the zone is saved, keep it current with `remember_my_timezone`; a
    change saved from another session is read again after TIMEZONE_REFRESH_SECONDS.
    """
    kept = st.session_state.get(_TIMEZONE_KEY)
    if kept and kept["user_id"] == user.id and time.monotonic() - kept["read_at"] < TIMEZONE_REFRESH_SECONDS:
        return kept["zone"]
    zone = load_my_profile(backend, user.claims)["timezone"]
    remember_my_timezone(user.id, zone)
    return zone


def remember_my_timezone(user_id: str, zone: str) -> None:
    """Keep the member's zone as just loaded or saved (My profile, My availability)."""
    st.session_state[_TIMEZONE_KEY] = {"user_id": user_id, "zone": zone, "read_at": time.monotonic()}
