"""Sign-in sessions (server-side; not the therapy sessions of portal.appointments): a sign-in cookie opens the
portal only while its session is open.

streamlit-authenticator 0.4.2 keeps the sign-in in a cookie holding a JWT (HS256, signed with the
cookie key) of {"username", "exp_date"}: whoever held it was signed in until exp_date, whatever
happened since (sign-out, a new password, the account closed). The portal adds two claims:
"uid", the account's user id, and "sid", the id of a row in private.sign_in_sessions that a
counted success opened (auth_record_successful_login). On every run the app's gate asks the
database whether that row is still open, for that account, under that username
(auth_session_alive); when it is not, the visitor is signed out. Sign-out deletes the row, Sign
out everywhere and a password change delete all of the account's rows, and closing an account
deletes them with its credentials. A cookie without the two claims opens nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from portal.auth import SignInSession, clean_username
from portal.db import SERVICE, Backend

COOKIE_NAME = "peer_portal_auth"
SESSION_DAYS = 7  # the cookie's life; a session row ends with it (interval '7 days' in the migration)


def cookie_claims(username: str, exp_date: float, session: SignInSession | None) -> dict[str, Any]:
    """What the cookie's JWT holds: the authenticator's two claims, and the session's two when one was opened."""
    claims: dict[str, Any] = {"username": username, "exp_date": exp_date}
    if session is not None and session.username == clean_username(username):
        claims.update(uid=session.user_id, sid=session.session_id)
    return claims


def session_from_claims(claims: dict[str, Any] | None) -> SignInSession | None:
    """The session a (signature-checked) cookie names, or None when it names none or is malformed."""
    if not isinstance(claims, dict):
        return None
    username, user_id, session_id = claims.get("username"), claims.get("uid"), claims.get("sid")
    if not all(isinstance(v, str) and v for v in (username, user_id, session_id)):
        return None
    try:
        user_id, session_id = str(uuid.UUID(user_id)), str(uuid.UUID(session_id))
    except ValueError:
        return None
    return SignInSession(user_id, session_id, clean_username(username))


def is_alive(backend: Backend, session: SignInSession | None) -> bool:
    """Is the session still open, for its account, under its username?"""
    if session is None:
        return False
    return bool(
        backend.rpc(
            "auth_session_alive",
            {"p_session": session.session_id, "p_user": session.user_id, "p_username": session.username},
            as_user=SERVICE,
        )
    )


def close(backend: Backend, session: SignInSession | None) -> None:
    """Sign-out: this session ends on the server; its cookie opens nothing from now on."""
    if session is not None:
        backend.rpc("auth_close_session", {"p_session": session.session_id, "p_user": session.user_id}, as_user=SERVICE)


def close_everywhere(backend: Backend, user_id: str) -> int:
    """Sign out everywhere: every session of the account ends. Returns how many were open."""
    return int(backend.rpc("auth_close_all_sessions", {"p_user": user_id}, as_user=SERVICE) or 0)
