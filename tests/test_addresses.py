"""Every page has an address that works (#15): a link to someone one may not see, or who left, says
why and offers the way back, the same way for both (which one is not said)."""

from __future__ import annotations

import uuid

import pytest

from portal.demo import demo_world
from tests.page_support import PAGES, app, no_exceptions, texts


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


def demo_id(username: str) -> str:
    return str(next(p.id for p in demo_world() if p.username == username))


def open_consultant(consultant_id: str):
    at = app("seeker01").run()
    at.session_state["view_consultant"] = consultant_id
    return at.switch_page(PAGES["consultant"]).run()


def test_a_blocked_consultant_opened_by_link_says_why_and_offers_the_way_back():
    # seeker01 declared consultant13 a former supervisor: blocking, so the profile is not theirs to see.
    blocked = open_consultant(demo_id("consultant13"))
    no_exceptions(blocked)
    warning = next(w for w in texts(blocked, "warning") if "not available to you" in w)
    assert "may have left the portal, or a conflict may rule out working together" in warning
    assert [str(link.proto.label) for link in blocked.main.get("page_link")] == ["Find a consultant"]
    assert not blocked.error

    # Someone who does not exist reads exactly the same: the page says nothing about which it is.
    missing = open_consultant(str(uuid.uuid4()))
    no_exceptions(missing)
    assert texts(missing, "warning") == texts(blocked, "warning")

    # So does an address whose id is no id at all (#26.7): no format error, the same way back.
    garbage = open_consultant("garbage")
    no_exceptions(garbage)
    assert texts(garbage, "warning") == texts(blocked, "warning") and not garbage.error
    assert [str(link.proto.label) for link in garbage.main.get("page_link")] == ["Find a consultant"]


def test_pages_outside_a_members_role_say_who_they_are_for():
    seeker = app("seeker01").run()
    seeker.switch_page(PAGES["admin"]).run()  # an admin's link, opened by a seeker
    no_exceptions(seeker)
    assert any(
        "administrator" in w.lower() for w in texts(seeker, "warning") + texts(seeker, "error") + texts(seeker, "info")
    )
    # ... and it is not in their menu.
    assert "Admin" not in [str(link.proto.label) for link in seeker.sidebar.get("page_link")]


def test_an_empty_portal_says_how_to_begin(tmp_path, monkeypatch):
    """Started without the demo world, a portal has no accounts: the sign-in page says so."""
    from portal.db import SERVICE
    from portal.db.bootstrap import apply_migrations, start_embedded
    from portal.db.local import LocalBackend

    db = start_embedded(tmp_path)
    try:
        apply_migrations(db.owner_conninfo)
        backend = LocalBackend(db.api_conninfo)
        try:
            assert backend.rpc("portal_has_accounts", {}, as_user=SERVICE) is False
        finally:
            backend.close()
    finally:
        db.stop()
    # The demo world's database has accounts, and its sign-in page does not say that.
    at = app().run()
    no_exceptions(at)
    assert not [i for i in texts(at, "info") if "no accounts yet" in i]
