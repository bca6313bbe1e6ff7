"""The sign-in cookie bound to a server-side session (portal.sign_in_sessions), wired into streamlit-authenticator.

streamlit-authenticator 0.4.2 (pinned in requirements.txt) builds its cookie in
`CookieModel._token_encode` and reads it back in `CookieModel.get_cookie`. `bind_cookie` replaces
both on this run's authenticator: the cookie also names the account's id and the session a counted
success opened, and a cookie is accepted only while that session is open. The session this browser
holds is kept in st.session_state[SESSION_KEY]; `gate` checks it on every run.
"""

from __future__ import annotations

import jwt
import streamlit as st

from portal import sign_in_sessions
from portal.auth import DatabaseCredentials, SignInSession
from portal.db import Backend, DatabaseUnavailable

SESSION_KEY = "portal_session"


def bind_cookie(authenticator, credentials: DatabaseCredentials, backend: Backend) -> None:
    """Make this run's authenticator write and accept only cookies naming an open session."""
    model = authenticator.cookie_controller.cookie_model
    read_signed_cookie = model.get_cookie  # checks the signature and exp_date; None or False when it fails

    def encode() -> str:  # called by CookieModel.set_cookie after a counted success
        claims = sign_in_sessions.cookie_claims(
            st.session_state["username"], model.exp_date, credentials.users.opened_session()
        )
        return jwt.encode(claims, model.cookie_key, algorithm="HS256")

    def get_cookie():
        claims = read_signed_cookie()
        if not claims:
            return claims
        session = sign_in_sessions.session_from_claims(claims)
        if not sign_in_sessions.is_alive(backend, session):
            return None  # signed out, password changed, account closed, or a cookie from before sessions
        remember(session)
        return claims

    model._token_encode = encode
    model.get_cookie = get_cookie


def current() -> SignInSession | None:
    return st.session_state.get(SESSION_KEY)


def remember(session: SignInSession | None) -> None:
    if session is None:
        st.session_state.pop(SESSION_KEY, None)
    else:
        st.session_state[SESSION_KEY] = session


def gate(authenticator, backend: Backend, username: str | None) -> bool:
    """On every run: the signed-in visitor's session must still be open for that username; if it is not, the
    visitor is signed out here (state cleared, cookie deleted). True when the visitor stays signed in."""
    if not username:
        return False
    session = current()
    if session is not None and session.username == username.lower().strip():
        try:
            if sign_in_sessions.is_alive(backend, session):
                return True
        except DatabaseUnavailable:
            # The database cannot be reached: nothing can be read or written this run either, and the page says
            # so while keeping what was typed (components/errors.py). The session is checked on the next run.
            return True
    sign_out_here(authenticator)
    return False


def sign_out_here(authenticator) -> None:
    """Forget the sign-in in this browser: session state and cookie (the server side is the caller's)."""
    if st.session_state.get("authentication_status"):
        authenticator.logout(location="unrendered")
    st.session_state.pop("portal_user", None)
    remember(None)


def sign_out(authenticator, backend: Backend, *, everywhere_for: str | None = None) -> None:
    """Sign out: this browser's session ends on the server (every session of the account with
    `everywhere_for`, the account's id), then here."""
    if everywhere_for:
        sign_in_sessions.close_everywhere(backend, everywhere_for)
    else:
        sign_in_sessions.close(backend, current())
    sign_out_here(authenticator)


def reissue_cookie(authenticator, credentials: DatabaseCredentials) -> None:
    """After a password change (which ended every session): the session the change opened, in a new cookie."""
    opened = credentials.users.opened_session()
    remember(opened)
    if opened is not None:
        authenticator.cookie_controller.set_cookie()
