"""The database stops under a running app, then comes back (runs last: it stops the shared server)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from portal.db import SERVICE, Claims, DatabaseUnavailable
from tests.page_support import APP, signed_in_as
from tests.test_app import PAGES, keyed, make_account, texts


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
