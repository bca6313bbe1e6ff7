"""A page opened through Streamlit's AppTest by a signed-in member, on the session's embedded database: for page
tests that need no more than a member's session (the sign-in itself is tested in tests/test_app.py)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.sessions import SESSION_KEY
from portal.auth import SignInSession
from portal.db import SERVICE, Backend

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def signed_in_app(backend: Backend, username: str) -> AppTest:
    """The app as a browser session that signed in as `username` leaves it: the authenticator's state and an open
    server-side session (what a right password does: auth_record_successful_login)."""
    state = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)
    assert state["signed_in"], f"{username} could not sign in: {state}"
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state[SESSION_KEY] = SignInSession(str(user_id), state["session"], username)
    return at


def all_text(at: AppTest) -> str:
    """Everything the page wrote, in one string (to check what it never names)."""
    kinds = ("title", "header", "markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(at, kind))
