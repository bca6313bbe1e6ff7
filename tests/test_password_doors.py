"""Every door that checks a password counts failures and honours the lock (issue 23, item 6): the sign-in form and
Account -> Change password share portal.auth.check_password, and the database refuses a new password while locked."""

from __future__ import annotations

import uuid
from pathlib import Path

import bcrypt
import pytest
from streamlit.testing.v1 import AppTest

from components.sign_in_sessions import SESSION_KEY
from portal.auth import MAX_FAILED_ATTEMPTS, AccountLocked, DatabaseUsers, SignInSession
from portal.db import SERVICE

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "Harbour-lights-2026"
NEW_PASSWORD = "Another-quiet-bay-77"


@pytest.fixture
def member(backend) -> str:
    username = f"door_{uuid.uuid4().hex[:8]}"
    backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": "Door Tester",
            "p_password_hash": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode(),
        },
        as_user=SERVICE,
    )
    return username


def stored_hash(backend, username: str) -> str:
    return backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["password_hash"]


def test_a_locked_account_refuses_even_the_right_password_and_counts_nothing_more(backend, member):
    for _ in range(MAX_FAILED_ATTEMPTS):
        assert DatabaseUsers(backend).check_credentials(member, "wrong guess") is False
    before = backend.rpc("auth_get_login", {"p_username": member}, as_user=SERVICE)
    assert before["locked_until"] is not None
    with pytest.raises(AccountLocked):
        DatabaseUsers(backend).check_credentials(member, "another wrong guess")
    with pytest.raises(AccountLocked):
        DatabaseUsers(backend).check_credentials(member, PASSWORD)
    assert backend.rpc("auth_get_login", {"p_username": member}, as_user=SERVICE) == before


def test_below_the_limit_the_right_password_passes(backend, member):
    users = DatabaseUsers(backend)
    assert users.check_credentials(member, "wrong guess") is False
    assert users.check_credentials(member, PASSWORD) is True
    assert DatabaseUsers(backend)[member]["failed_login_attempts"] == 1  # the door's success step resets it


def test_a_new_password_is_refused_when_parallel_attempts_locked_the_account_after_the_check(backend, member):
    users = DatabaseUsers(backend)
    record = users[member]
    assert users.check_credentials(member, PASSWORD)
    for _ in range(MAX_FAILED_ATTEMPTS):  # another browser, meanwhile
        backend.rpc("auth_record_failed_login", {"p_username": member}, as_user=SERVICE)
    old = stored_hash(backend, member)
    with pytest.raises(AccountLocked) as refused:
        record["password"] = bcrypt.hashpw(NEW_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    assert refused.value.locked_until is not None
    assert stored_hash(backend, member) == old
    assert DatabaseUsers(backend)[member].locked_until is not None  # the lock stays


# --- the page: Account -> Change password ----------------------------------------------------


def account_page(backend, username: str) -> AppTest:
    state = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state[SESSION_KEY] = SignInSession(str(user_id), state["session"], username)
    at.run()
    at.switch_page("views/account.py").run()
    return at


def change_password(at: AppTest, current: str) -> AppTest:
    fields = {ti.label: ti for ti in at.text_input}
    fields["Current password"].input(current)
    fields["New password"].input(NEW_PASSWORD)
    fields["Repeat new password"].input(NEW_PASSWORD)
    next(b for b in at.button if b.label == "Change password").click()
    return at.run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_change_password_counts_wrong_current_passwords_and_honours_the_lock(embedded_db, backend, member):
    at = account_page(backend, member)
    for _ in range(MAX_FAILED_ATTEMPTS):
        change_password(at, "not my password")
        assert not at.exception, [e.value for e in at.exception]
        assert any("current password is incorrect" in e for e in errors(at)), errors(at)
    assert backend.rpc("auth_get_login", {"p_username": member}, as_user=SERVICE)["locked_until"] is not None
    old = stored_hash(backend, member)
    change_password(at, PASSWORD)  # the right one, while locked
    assert not at.exception, [e.value for e in at.exception]
    assert any("locked" in e for e in errors(at)), errors(at)
    assert not any("Your password was changed" in s.value for s in at.success)
    assert stored_hash(backend, member) == old
    assert backend.rpc("auth_get_login", {"p_username": member}, as_user=SERVICE)["locked_until"] is not None
