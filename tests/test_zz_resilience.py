"""The database stops under a running app, then comes back (runs last: it stops the shared server)."""

from __future__ import annotations

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from portal.db import SERVICE, Claims, DatabaseUnavailable
from portal.db.local import LocalBackend
from tests.page_support import APP, PAGES, keyed, signed_in_as, texts
from tests.people_support import make_account


@pytest.fixture
def stopped_database(embedded_db):
    """Stop the server for the test's middle part; always start it again."""
    state = {"stopped": False}

    def stop():
        embedded_db.stop()
        state["stopped"] = True

    def start():
        embedded_db.start()
        state["stopped"] = False

    yield stop, start
    if state["stopped"]:
        embedded_db.start()


def test_database_down_shows_a_sentence_keeps_the_form_and_recovers(backend, stopped_database):
    stop, start = stopped_database
    username = make_account(backend)
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    at = signed_in_as(AppTest.from_file(APP, default_timeout=60), username)
    at.run()
    at.switch_page(PAGES["profile"]).run()
    keyed(at, "text_input", "profile_pronouns").input("they/them")

    stop()
    with pytest.raises(DatabaseUnavailable):
        backend.rpc("get_my_profile", {}, as_user=Claims.user(user_id))
    at.button(key="profile_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot reach its database" in e and "Nothing you typed was lost" in e for e in texts(at, "error"))
    assert keyed(at, "text_input", "profile_pronouns").value == "they/them"

    start()
    at.button(key="profile_save").click().run()
    assert not at.exception
    assert "Profile saved." in texts(at, "success"), texts(at, "error")
    # The same pool reconnected by itself; and what was saved survived the restart.
    assert backend.rpc("get_my_profile", {}, as_user=Claims.user(user_id))["pronouns"] == "they/them"
    stop()
    start()
    assert backend.rpc("get_my_profile", {}, as_user=Claims.user(user_id))["pronouns"] == "they/them"


def test_a_connection_the_server_ended_is_not_lent_again(embedded_db):
    # The pool checks a connection before lending it without a round trip (local._check_before_lending): one the
    # server ended while it sat in the pool (an administrator, a failover, a restart) is readable, so it is asked,
    # found dead and replaced; the member's call goes through on a fresh one.
    with psycopg.connect(embedded_db.owner_conninfo) as owner:
        member = Claims.user(str(owner.execute("select id from public.profiles limit 1").fetchone()[0]))
    backend = LocalBackend(embedded_db.api_conninfo, min_size=1, max_size=1)
    try:
        assert backend.rpc("list_modalities", {}, as_user=member)
        with backend._pool.connection() as pooled:  # the one connection the next call would be lent
            pid = pooled.info.backend_pid
        with psycopg.connect(embedded_db.superuser_uri, autocommit=True) as server:
            ended = server.execute("select pg_terminate_backend(%s)", (pid,)).fetchall()
        assert ended and all(row[0] for row in ended)
        assert backend.rpc("list_modalities", {}, as_user=member)
    finally:
        backend.close()
