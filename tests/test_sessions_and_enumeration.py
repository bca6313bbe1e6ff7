"""Sign-in says the same for every name, and sessions are revocable (issue 16, items 7 and 8).

Item 7 was: a real account locked after five failures while a made-up name never did, and only a real
name's password was checked with bcrypt. Item 8 was: the sign-in cookie still opened the account after
sign-out, after a password change and after the account was closed. Each attempt is made again here and
shown to fail. The cookie itself, in a browser, is tests/test_sessions_browser.py.
"""

from __future__ import annotations

import re
import uuid

import bcrypt
import pytest
import streamlit_authenticator.utilities.hasher as hasher

from components.sign_in_sessions import SESSION_KEY
from portal import sign_in_sessions
from portal.auth import DUMMY_PASSWORD_HASH, MAX_FAILED_ATTEMPTS, DatabaseUsers, SignInSession, sign_in_refusal
from portal.db import SERVICE, Claims
from tests.page_support import PAGES, app, no_exceptions, sign_in, texts
from tests.people_support import make_account

PASSWORD = "Good-pass-123"  # make_account's


def made_up_name() -> str:
    return f"nobody_{uuid.uuid4().hex[:10]}"


def real_name(backend) -> str:
    return make_account(backend, PASSWORD)


def user_id(backend, username: str) -> str:
    return str(backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"])


def open_session(backend, username: str) -> SignInSession:
    state = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)
    assert state["signed_in"], state
    return SignInSession(user_id(backend, username), state["session"], username)


# --- item 7, in the database: every typed name is counted and locked alike -------------------------


def test_a_made_up_name_locks_after_five_failures_exactly_as_a_real_one(backend):
    real, made_up = real_name(backend), made_up_name()
    answers = {
        name: [
            backend.rpc("auth_record_failed_login", {"p_username": name}, as_user=SERVICE)
            for _ in range(MAX_FAILED_ATTEMPTS + 2)
        ]
        for name in (real, made_up)
    }
    for name, states in answers.items():
        assert [s["failed_attempts"] for s in states] == [1, 2, 3, 4, 5, 5, 5], name
        assert [s["locked_until"] is None for s in states] == [True] * 4 + [False] * 3, name
        assert states[4]["locked_until"] == states[5]["locked_until"] == states[6]["locked_until"], name
    # The sign-in form's lookup gives both the same fields, both locked.
    records = {
        name: backend.rpc("auth_sign_in_record", {"p_username": f"  {name.upper()} "}, as_user=SERVICE)
        for name in (real, made_up)
    }
    assert records[real].keys() == records[made_up].keys()
    for name, record in records.items():
        assert (record["username"], record["failed_attempts"]) == (name, MAX_FAILED_ATTEMPTS)
        assert record["locked_until"] == answers[name][4]["locked_until"]
    assert records[made_up]["id"] is None and records[made_up]["password_hash"] is None
    # Neither a right password for the real one nor anything for the made-up one lifts a lock or signs in.
    for name in (real, made_up):
        assert backend.rpc("auth_record_successful_login", {"p_username": name}, as_user=SERVICE) == {
            "signed_in": False,
            "locked_until": answers[name][4]["locked_until"],
        }


def test_a_made_up_name_never_signs_in_and_its_failures_are_not_an_accounts(backend):
    made_up = made_up_name()
    assert backend.rpc("auth_record_successful_login", {"p_username": made_up}, as_user=SERVICE) == {
        "signed_in": False,
        "locked_until": None,
    }
    backend.rpc("auth_record_failed_login", {"p_username": made_up}, as_user=SERVICE)
    assert backend.rpc("auth_get_login", {"p_username": made_up}, as_user=SERVICE) is None
    users = DatabaseUsers(backend)
    with users.answering_every_name():  # the sign-in form: the name has a record, checked against the dummy hash
        assert made_up in users
        assert users[made_up]["password"] == DUMMY_PASSWORD_HASH and users[made_up]["failed_login_attempts"] == 1
        users[made_up]["failed_login_attempts"] = 0  # were a password ever to match: no sign-in, no session
        assert users.opened_session() is None
    assert made_up not in users  # outside the form (registration, cookies) the name has no account
    assert made_up not in DatabaseUsers(backend)


def test_the_dummy_hash_costs_what_a_real_hash_costs():
    real = hasher.Hasher.hash("Any-password-1")  # what streamlit-authenticator stores for a new password
    assert DUMMY_PASSWORD_HASH[:7] == real[:7] == "$2b$12$"
    assert hasher.Hasher.is_hash(DUMMY_PASSWORD_HASH)
    assert not bcrypt.checkpw(b"", DUMMY_PASSWORD_HASH.encode())


# --- item 7, on the page: the same work and the same sentences --------------------------------------


@pytest.fixture
def checked_hashes(monkeypatch):
    """Every hash the sign-in form checks a password against (streamlit-authenticator's Hasher.check_pw)."""
    seen: list[str] = []
    real_checkpw = hasher.bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        seen.append(hashed.decode())
        return real_checkpw(password, hashed)

    monkeypatch.setattr(hasher.bcrypt, "checkpw", counting_checkpw)
    return seen


def test_a_wrong_password_runs_bcrypt_for_a_made_up_name_as_for_a_real_one(backend, checked_hashes):
    real, made_up = real_name(backend), made_up_name()
    refused = {}
    for name in (real, made_up):
        checked_hashes.clear()
        at = sign_in(app().run(), name, "Wrong-pass-999")
        no_exceptions(at)
        refused[name] = texts(at, "error")
        assert len(checked_hashes) == 1, name  # one bcrypt check, whatever the name
    assert checked_hashes == [DUMMY_PASSWORD_HASH]  # the made-up name's
    assert refused[real] == refused[made_up] == [sign_in_refusal(None)]


def test_a_made_up_name_is_locked_after_five_failures_with_the_real_ones_sentence(backend):
    answers = {}
    for name in (real_name(backend), made_up_name()):
        at = app().run()
        for _ in range(MAX_FAILED_ATTEMPTS):
            at = sign_in(at, name, "Wrong-pass-999")
        no_exceptions(at)
        # Another browser, the next attempt: locked, the same sentence (the time aside, which is the lock's own).
        later = sign_in(app().run(), name, PASSWORD)
        no_exceptions(later)
        assert later.session_state["authentication_status"] is False
        answers[name] = [re.sub(r"\d\d:\d\d UTC", "HH:MM UTC", e) for e in texts(at, "error") + texts(later, "error")]
    first, second = answers.values()
    assert first == second
    assert all("locked" in e and "15 minutes" in e for e in first), first


def test_the_page_has_one_sentence_for_wrong_and_unknown_and_one_for_locked():
    from datetime import UTC, datetime

    assert sign_in_refusal(None) == (
        "The username or password is incorrect. After 5 failed attempts the account is locked for 15 minutes."
    )
    assert sign_in_refusal(datetime(2026, 1, 2, 9, 30, tzinfo=UTC)) == (
        "This account is locked after 5 failed sign-in attempts. Try again after 09:30 UTC (15 minutes from the "
        "last attempt), or ask an administrator to unlock it."
    )


# --- item 8, in the database: a session ends with sign-out, a new password, a closed account -------


def test_a_counted_success_opens_a_session_for_that_account_and_username_only(backend):
    username = real_name(backend)
    session = open_session(backend, username)
    assert sign_in_sessions.is_alive(backend, session)
    other = real_name(backend)
    assert not sign_in_sessions.is_alive(backend, SignInSession(user_id(backend, other), session.session_id, username))
    assert not sign_in_sessions.is_alive(backend, SignInSession(session.user_id, session.session_id, other))
    assert not sign_in_sessions.is_alive(backend, SignInSession(session.user_id, str(uuid.uuid4()), username))
    assert not sign_in_sessions.is_alive(backend, None)


def test_sign_out_ends_one_session_and_sign_out_everywhere_ends_all(backend):
    username = real_name(backend)
    here, there, elsewhere = (open_session(backend, username) for _ in range(3))
    sign_in_sessions.close(backend, here)
    assert not sign_in_sessions.is_alive(backend, here)
    assert sign_in_sessions.is_alive(backend, there) and sign_in_sessions.is_alive(backend, elsewhere)
    assert sign_in_sessions.close_everywhere(backend, there.user_id) == 2
    assert not sign_in_sessions.is_alive(backend, there) and not sign_in_sessions.is_alive(backend, elsewhere)


def test_a_new_password_ends_every_session(backend):
    username = real_name(backend)
    session = open_session(backend, username)
    new_hash = bcrypt.hashpw(b"N3w-secret!", bcrypt.gensalt(rounds=4)).decode()
    DatabaseUsers(backend)[username]["password"] = new_hash
    assert not sign_in_sessions.is_alive(backend, session)


@pytest.mark.parametrize("closed_by", ["owner", "admin"])
def test_a_closed_account_has_no_session(backend, closed_by):
    username = real_name(backend)
    session = open_session(backend, username)
    if closed_by == "owner":
        backend.rpc("delete_my_account", {"p_confirm_username": username}, as_user=Claims.user(session.user_id))
    else:
        admin = user_id(backend, "admin")
        backend.rpc(
            "admin_close_account",
            {"p_user": session.user_id, "p_reason": "A test closes this account for good."},
            as_user=Claims.user(admin),
        )
    assert not sign_in_sessions.is_alive(backend, session)


def test_the_cookie_names_the_account_and_the_session():
    session = SignInSession(str(uuid.uuid4()), str(uuid.uuid4()), "casey")
    claims = sign_in_sessions.cookie_claims("Casey", 1.0, session)
    assert claims == {"username": "Casey", "exp_date": 1.0, "uid": session.user_id, "sid": session.session_id}
    assert sign_in_sessions.session_from_claims(claims) == session
    # A session opened for another name is never written into this one's cookie.
    assert sign_in_sessions.cookie_claims("other", 1.0, session) == {"username": "other", "exp_date": 1.0}
    # What streamlit-authenticator alone writes, and malformed claims, name no session.
    for claims in (
        {"username": "casey", "exp_date": 1.0},
        {"username": "casey", "uid": "x", "sid": "y"},
        {"username": "casey", "uid": session.user_id, "sid": 7},
        None,
        False,
    ):
        assert sign_in_sessions.session_from_claims(claims) is None


# --- item 8, through the pages (AppTest): the gate checks on every run -------------------------------


def test_signing_in_opens_a_session_the_gate_checks_on_every_run(backend):
    username = real_name(backend)
    at = sign_in(app().run(), username, PASSWORD)
    no_exceptions(at)
    session = at.session_state[SESSION_KEY]
    assert session.username == username and sign_in_sessions.is_alive(backend, session)
    at.run()
    assert texts(at, "title") != ["Sign in"]
    # Ended from elsewhere (another browser's "Sign out everywhere"): the next run of this one is signed out.
    sign_in_sessions.close_everywhere(backend, session.user_id)
    at.run()
    no_exceptions(at)
    assert not at.session_state["authentication_status"] and "portal_user" not in at.session_state
    assert texts(at, "title") == ["Sign in"]


def test_sign_out_ends_the_session_on_the_server(backend):
    at = app(real_name(backend)).run()
    session = at.session_state[SESSION_KEY]
    at.switch_page(PAGES["account"]).run()
    at.button(key="sign_out").click().run()
    no_exceptions(at)
    assert not sign_in_sessions.is_alive(backend, session)
    assert SESSION_KEY not in at.session_state


def test_sign_out_everywhere_ends_every_session_of_the_account(backend):
    username = real_name(backend)
    other_browser = open_session(backend, username)
    at = app(username).run()
    session = at.session_state[SESSION_KEY]
    at.switch_page(PAGES["account"]).run()
    at.button(key="sign_out_everywhere").click().run()
    no_exceptions(at)
    assert not sign_in_sessions.is_alive(backend, session) and not sign_in_sessions.is_alive(backend, other_browser)
    at.run()
    assert texts(at, "title") == ["Sign in"]


def test_changing_the_password_ends_other_sessions_and_keeps_this_one_signed_in(backend):
    username = real_name(backend)
    other_browser = open_session(backend, username)
    at = app(username).run()
    old = at.session_state[SESSION_KEY]
    at.switch_page(PAGES["account"]).run()
    fields = {ti.label: ti for ti in at.text_input}
    fields["Current password"].input(PASSWORD)
    fields["New password"].input("Newer-pass-456!")
    fields["Repeat new password"].input("Newer-pass-456!")
    next(b for b in at.button if b.label == "Change password").click()
    at.run()
    no_exceptions(at)
    assert any("Your password was changed." in s for s in texts(at, "success")), texts(at, "error")
    new = at.session_state[SESSION_KEY]
    assert not sign_in_sessions.is_alive(backend, old) and not sign_in_sessions.is_alive(backend, other_browser)
    assert new.session_id != old.session_id and sign_in_sessions.is_alive(backend, new)
    at.run()
    assert texts(at, "title") == ["Account"]
