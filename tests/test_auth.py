"""The authenticator's credentials come from the database one user at a time."""

from __future__ import annotations

import uuid

import bcrypt
import pytest

from portal.auth import DatabaseCredentials, DatabaseUsers, current_user_from
from portal.demo import DEMO_PASSWORD
from portal.refusal import Refusal


class RecordingBackend:
    """Passes calls through to the real backend and remembers them."""

    def __init__(self, backend):
        self.backend = backend
        self.calls: list[tuple[str, dict]] = []

    def rpc(self, fn, params=None, *, as_user):
        self.calls.append((fn, dict(params or {})))
        return self.backend.rpc(fn, params, as_user=as_user)


def test_looking_up_one_user_fetches_only_that_user(backend):
    recording = RecordingBackend(backend)
    users = DatabaseUsers(recording)
    assert "seeker01" in users
    assert users["SEEKER01"]["name"]
    assert bcrypt.checkpw(DEMO_PASSWORD.encode(), users["seeker01"]["password"].encode())
    assert "nobody-here" not in users
    assert "nobody-here" not in users  # remembered for the run
    assert recording.calls == [
        ("auth_get_login", {"p_username": "seeker01"}),
        ("auth_get_login", {"p_username": "nobody-here"}),
    ]
    assert list(users) == ["seeker01"] and len(users) == 1


def test_authenticator_cannot_replace_the_database_mapping(backend):
    credentials = DatabaseCredentials(backend)
    credentials["usernames"] = {}
    assert isinstance(credentials["usernames"], DatabaseUsers)


def test_failed_attempts_are_counted_in_the_database_across_sessions(backend, new_user):
    _, username = new_user("sessions")
    first_session, second_session = DatabaseUsers(backend), DatabaseUsers(backend)
    for _ in range(3):
        first_session[username]["failed_login_attempts"] += 1
    for _ in range(2):
        second_session[username]["failed_login_attempts"] += 1
    third_session = DatabaseUsers(backend)
    assert third_session[username]["failed_login_attempts"] == 5
    assert third_session[username].locked_until is not None
    # A correct password while locked does not lift the lock (issue 16): time or an admin does.
    third_session[username]["failed_login_attempts"] = 0
    assert DatabaseUsers(backend)[username]["failed_login_attempts"] == 5
    # Below the limit, a success resets the count.
    _, other = new_user("sessions")
    fourth_session = DatabaseUsers(backend)
    fourth_session[other]["failed_login_attempts"] += 1
    fourth_session[other]["failed_login_attempts"] = 0
    assert DatabaseUsers(backend)[other]["failed_login_attempts"] == 0


def test_new_password_hash_is_written_back(backend, new_user):
    _, username = new_user("pw")
    new_hash = bcrypt.hashpw(b"N3w-secret!", bcrypt.gensalt(rounds=4)).decode()
    DatabaseUsers(backend)[username]["password"] = new_hash
    assert DatabaseUsers(backend)[username]["password"] == new_hash


def test_registration_writes_a_user_and_refuses_duplicates_with_sentences(backend):
    name = f"reg_{uuid.uuid4().hex[:8]}"
    users = DatabaseUsers(backend)
    users[name] = {
        "email": f"{name}@example.org",
        "first_name": "Rae",
        "last_name": "Gist",
        "password": "$2b$12$" + "z" * 53,
        "roles": None,
    }
    fresh = DatabaseUsers(backend)
    assert fresh[name]["name"] == "Rae Gist"
    with pytest.raises(Refusal, match="username is taken"):
        DatabaseUsers(backend)[name] = {
            "email": "other@example.org",
            "first_name": "A",
            "last_name": "B",
            "password": "$2b$12$" + "z" * 53,
        }
    # An address that has an account is refused without saying so (#13: that told anyone who is registered).
    with pytest.raises(Refusal) as refused:
        DatabaseUsers(backend)[name + "2"] = {
            "email": f"{name.upper()}@EXAMPLE.org",
            "first_name": "A",
            "last_name": "B",
            "password": "$2b$12$" + "z" * 53,
        }
    assert str(refused.value) == "Registration could not be completed. Please check the fields and try again."


def test_current_user_carries_identity_and_role(backend):
    credentials = DatabaseCredentials(backend)
    admin = current_user_from(credentials, "admin")
    member = current_user_from(credentials, "consultant07")
    assert admin.is_admin and not member.is_admin
    assert member.claims.sub == member.id and member.claims.role == "portal_member"
    assert current_user_from(credentials, "ghost") is None
