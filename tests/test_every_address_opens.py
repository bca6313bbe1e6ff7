"""Every address the portal sends or shows opens a page for every visitor, signed in or not (#26.2).

The "Someone tried to register with your email" message links to /sign-in, which read "Page not found" for a
signed-in visitor; /home did the same (Streamlit serves its default page at "/" only). Each address is opened here
as a browser's first load opens it (tests/address_support.py), signed out and as each role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.account_links import LINK_PAGES
from portal.email_messages import build_link_message, item_link
from tests.address_support import at_address
from tests.page_support import PAGES, app, no_exceptions, texts

APP_SOURCE = (Path(__file__).resolve().parents[1] / "app.py").read_text()
BASE = "https://portal.example"
# The landing page's own name: Streamlit serves the default page at "/" (tested as ""), never at its name.
LANDING = "portal"


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


def addresses_in_emails() -> set[str]:
    """The page of every link in the account emails and in the notices' emails."""
    links = []
    for kind in ("registration", "verify_email", "reset", "already_registered"):
        row = {"id": 1, "kind": kind, "email": "a@b.example", "username": "ana", "recipient_name": "Ana"}
        message = build_link_message(row, token="t0ken", sender="p@portal.example", base_url=BASE)
        links += re.findall(rf"{BASE}/[^\s?]*", message.get_body(("plain",)).get_content())
    for page in ("appointments", "requests", "termination", "notifications", "availability", None):
        links.append(item_link({"page": page}, BASE))
    return {link.removeprefix(BASE).strip("/") for link in links}


def addresses_the_app_registers() -> set[str]:
    in_menu = re.findall(r'\("views/[a-z_]+\.py", "[^"]+", "[^"]+", "([a-z-]+)"', APP_SOURCE)
    named = re.findall(r'url_path="([a-z-]+)"', APP_SOURCE)
    return set(in_menu) | set(named) - {LANDING}


ADDRESSES = sorted(addresses_the_app_registers() | addresses_in_emails() | set(LINK_PAGES.values()) | {""})
ROLES = [None, "seeker01", "consultant01", "admin"]
NOTE_REASONS = {"sign-in": "signed_in", "register": "registered"}  # why Home says it was opened
FOR_VISITORS = {"", "sign-in", "register", "forgot-password", "verify-email", "reset-password"}


def test_the_addresses_are_collected_from_the_app_and_the_emails():
    assert {"", "home", "sign-in", "register", "forgot-password", "verify-email", "reset-password"} <= set(ADDRESSES)
    assert {"appointments", "termination", "requests", "notifications", "availability", "admin"} <= set(ADDRESSES)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "signed-out")
def test_every_address_opens_a_page_for_every_visitor(role):
    opened = {}
    for address in ADDRESSES:
        at = app(role) if role else app()
        not_found = at_address(at, address)
        no_exceptions(at)
        assert not_found == [], f"/{address} reads 'Page not found' for {role or 'a visitor'}"
        opened[address] = texts(at, "title")
    if role is None:
        # A member's address opened signed out shows sign-in there (and once signed in, the page asked for).
        assert all(opened[a] == ["Sign in"] for a in ADDRESSES if a not in FOR_VISITORS - {"sign-in"}), opened
        assert opened["register"] == ["Register"] and opened["forgot-password"] == ["Forgot your password"]
    else:
        assert all(title and not title[0].startswith("Sign in") for title in opened.values()), opened
        assert opened[""][0].startswith("Welcome, ") and opened["home"][0].startswith("Welcome, ")


@pytest.mark.parametrize("address", ["sign-in", "register"])
def test_a_visitors_address_takes_a_member_home_with_a_note(address):
    at = app("seeker01")
    assert at_address(at, address) == []
    no_exceptions(at)
    [title] = texts(at, "title")
    assert title.startswith("Welcome, ")
    [note] = [i for i in texts(at, "info") if "you are signed in as" in i.lower()]
    assert "sign out first" in note
    # A rerun keeps it (in Chromium the sign-in cookie's report reruns Home a moment after it is drawn: a note
    # kept for one run was gone before anyone read it); Home opened again, by its own address, says nothing more.
    at.run()
    assert [i for i in texts(at, "info") if "you are signed in as" in i.lower()] == [note]
    assert dict(at.query_params) == {"note": NOTE_REASONS[address]}, dict(at.query_params)
    at.query_params.clear()  # what following a link to Home does
    at.switch_page(PAGES["home"]).run()
    assert not [i for i in texts(at, "info") if "you are signed in as" in i.lower()]
