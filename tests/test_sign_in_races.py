"""A lock holds against parallel sign-ins, and a closed account's username is never reissued (issue 16, 6 and 8)."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from portal.auth import MAX_FAILED_ATTEMPTS, DatabaseUsers
from portal.db import SERVICE, Claims
from portal.db.local import LocalBackend
from portal.refusal import Refusal


def register(backend) -> str:
    username = f"race_{uuid.uuid4().hex[:8]}"
    backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": "Race Tester",
            "p_password_hash": "$2b$12$" + "x" * 53,
        },
        as_user=SERVICE,
    )
    return username


def fail(backend, username: str, times: int = 1) -> None:
    for _ in range(times):
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)


def test_a_right_password_after_the_lock_neither_signs_in_nor_lifts_it(backend):
    username = register(backend)
    fail(backend, username, MAX_FAILED_ATTEMPTS)
    locked = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["locked_until"]
    assert locked is not None
    assert backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE) == {
        "signed_in": False,
        "locked_until": locked,
    }
    backend.rpc("auth_clear_failed_logins", {"p_username": username}, as_user=SERVICE)  # the old door, too
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["locked_until"] == locked


def test_the_record_read_before_a_parallel_lock_does_not_let_the_right_password_in(backend):
    """What a sign-in run does: it reads the account (unlocked), wrong attempts elsewhere lock it, then the
    authenticator reports this run's correct password by resetting the count."""
    username = register(backend)
    record = DatabaseUsers(backend)[username]
    assert record.locked_until is None
    fail(backend, username, MAX_FAILED_ATTEMPTS)
    record["failed_login_attempts"] = 0  # streamlit-authenticator's reset after a correct password
    assert record.locked_until is not None and record["failed_login_attempts"] == MAX_FAILED_ATTEMPTS


def test_thirteen_wrong_and_one_right_sent_together_leave_the_account_locked(embedded_db):
    backends = [LocalBackend(embedded_db.api_conninfo, max_size=1) for _ in range(14)]
    try:
        username = register(backends[0])
        barrier = threading.Barrier(14)
        outcomes: list[dict] = []

        def wrong(b):
            barrier.wait()
            fail(b, username)

        def right(b):
            barrier.wait()
            outcomes.append(b.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE))

        threads = [threading.Thread(target=wrong, args=(b,)) for b in backends[:13]]
        threads.append(threading.Thread(target=right, args=(backends[13],)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        state = backends[0].rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)
        # Thirteen failures lock the account whatever the order; the right password never lifts the lock.
        assert state["locked_until"] is not None and state["failed_attempts"] == MAX_FAILED_ATTEMPTS
        assert len(outcomes) == 1
        if not outcomes[0]["signed_in"]:
            assert outcomes[0]["locked_until"] == state["locked_until"]
    finally:
        for b in backends:
            b.close()


def test_a_closed_accounts_username_is_never_reissued(backend, embedded_db):
    username = register(backend)
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    backend.rpc("delete_my_account", {"p_confirm_username": username}, as_user=Claims.user(user_id))
    users = DatabaseUsers(backend)
    assert username not in users
    with pytest.raises(Refusal, match="That username is taken"):
        users[username] = {
            "email": f"new_{username}@test.example",
            "password": "$2b$12$" + "y" * 53,
            "first_name": "Someone",
            "last_name": "Else",
        }
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        assert (
            conn.execute("select count(*) from private.credentials where username = %s", (username,)).fetchone()[0] == 0
        )
