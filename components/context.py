"""Per-session access to the backend, the signed-in user and the authenticator.

The backend is process-wide and carries no identity (st.cache_resource). Who is
signed in lives in st.session_state only.
"""

from __future__ import annotations

import streamlit as st

from portal.auth import CurrentUser, DatabaseCredentials
from portal.config import Settings
from portal.db import Backend, open_backend


def settings() -> Settings:
    try:
        secrets = dict(st.secrets)
    except Exception:  # no secrets.toml: local mode reads the environment
        secrets = {}
    return Settings.load(secrets)


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
