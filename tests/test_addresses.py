"""Every page has an address that works (#15): a link to someone one may not see, or who left, says
why and offers the way back, the same way for both (which one is not said)."""

from __future__ import annotations

import uuid

import pytest

from portal.demo import demo_world
from tests.test_app import PAGES, app, no_exceptions, texts


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
