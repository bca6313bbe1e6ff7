"""AppTest helpers the page test modules share: a run of app.py signed in as a member, and what a run drew."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.sessions import SESSION_KEY
from portal.auth import SignInSession
from portal.db import SERVICE

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def app(username: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if username:
        signed_in_as(at, username)
    return at


def signed_in_as(at: AppTest, username: str) -> AppTest:
    """A browser session signed in as `username`, as a counted sign-in leaves one: the authenticator's state and
    an open server-side session (app.py's gate checks it on every run)."""
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state[SESSION_KEY] = open_session(username)
    return at


_SERVICE_BACKEND = []


def open_session(username: str) -> SignInSession:
    """What a right password does in the database: auth_record_successful_login opens a session."""
    if not _SERVICE_BACKEND:  # the test session's own server (tests/conftest.py started it under PORTAL_DATA_DIR)
        from portal.db.bootstrap import start_embedded
        from portal.db.local import LocalBackend

        db = start_embedded(Path(os.environ["PORTAL_DATA_DIR"]), cleanup_mode=None)
        _SERVICE_BACKEND.append(LocalBackend(db.api_conninfo, max_size=2))
    backend = _SERVICE_BACKEND[0]
    state = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)
    assert state["signed_in"], f"{username} could not sign in: {state}"
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    return SignInSession(str(user_id), state["session"], username)


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
