"""Chromium: member-typed text is text, never markup (issue 23, item 2), replayed in a real browser.

The attack: a display name `![r](http://tracker.invalid/s.png)[Verify licence](http://tracker.invalid/ph)` made the
consultant's browser fetch a tracking pixel on Requests and showed a "Verify licence" link on every seeker's Find
results and on the profile; the same text as competency evidence did it on the admin's verification queue. Names
saved before the database's name rule (migration 20261206400200) are planted directly, with the rule's trigger off
for that one statement, as such a name would still sit in a database. Each page is checked in the DOM (no <img> or
<a> reaching the planted host, and nothing fetched from it) and for the literal text being visible.

The browser is driven through tests/app_server.py's shared helpers (issue 28): contexts from new_context, sign-in
through sign_in, pages opened with open_page/goto/reload, every wait a condition on the idle app.
Screenshots go to test-artifacts/member-text/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest

from portal.db.bootstrap import EmbeddedDatabase
from portal.demo import DEMO_PASSWORD
from tests.app_server import (
    ARTIFACTS,
    AppServer,
    Shots,
    card,
    goto,
    new_context,
    notice,
    open_page,
    reload,
    running_app,
    sign_in,
    wait_for_sign_in_form,
)

try:
    from playwright.sync_api import Browser, Page
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

HOST = "tracker.invalid"
PLANTED = f"![r](http://{HOST}/s.png)[Verify licence](http://{HOST}/ph)"
SHOWN = "Verify licence"  # the planted link's words, shown as text
SHOTS = ARTIFACTS / "member-text"


@pytest.fixture(scope="module")
def app(browser: Browser) -> Iterator[AppServer]:
    with running_app("app-server-member-text.log", "member-text") as server:
        wait_for_sign_in_form(server, browser, label="member-text")
        yield server


@pytest.fixture(scope="module")
def owner(app: AppServer) -> Iterator[psycopg.Connection]:
    """The app's own database as its owner: the planted rows are written as a name from before the rule would be."""
    socket_dir = (app.pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
    db = EmbeddedDatabase(data_dir=app.data_dir, socket_dir=socket_dir, superuser_uri="", server=None)
    with psycopg.connect(db.owner_conninfo, autocommit=True) as conn:
        yield conn


def plant_name(owner: psycopg.Connection, profile_id) -> None:
    # Three statements, each committed (the update's deferred triggers must have run before the rule is back on).
    owner.execute("alter table public.profiles disable trigger profiles_display_name_is_a_name")
    try:
        owner.execute("update public.profiles set display_name = %s where id = %s", (PLANTED, profile_id))
    finally:
        owner.execute("alter table public.profiles enable trigger profiles_display_name_is_a_name")


def username_of(owner: psycopg.Connection, profile_id) -> str:
    return owner.execute("select username from private.credentials where user_id = %s", (profile_id,)).fetchone()[0]


class Visit:
    """One signed-in browser (new_context, sign_in: Home drawn, the app idle); every request it makes is recorded."""

    def __init__(self, browser: Browser, app: AppServer, username: str) -> None:
        self.app = app
        self.context = new_context(browser)
        self.requested: list[str] = []
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.page: Page = self.context.new_page()
        sign_in(self.page, app.url, username, DEMO_PASSWORD)

    def fetched_from_the_planted_host(self) -> list[str]:
        return [url for url in self.requested if HOST in url]

    def close(self) -> None:
        self.context.close()


def shows_the_planted_text_as_text(page: Page, shots: Shots, name: str) -> None:
    notice(page, SHOWN)
    shots(page, name)
    assert page.locator(f'img[src*="{HOST}"]').count() == 0, f"{name}: an image from the planted host"
    assert page.locator(f'a[href*="{HOST}"]').count() == 0, f"{name}: a link to the planted host"
    shown = page.evaluate("document.body.innerText").replace("\u2060", "")
    assert PLANTED in shown, f"{name}: the literal text is not shown"


def test_a_planted_name_and_evidence_are_text_on_every_page(browser: Browser, app: AppServer, owner) -> None:
    shots = Shots(SHOTS, "member-text")

    # Find and the profile: a seeker's first result gets the planted name.
    seeker = Visit(browser, app, "seeker01")
    try:
        page = seeker.page
        open_page(page, "Find a consultant", "Find a consultant")
        first = card(page, "find_card_").first
        assert first.count() == 1, "Find shows no consultant to plant the name on"
        consultant_id = next(
            c.removeprefix("st-key-find_card_")
            for c in first.get_attribute("class").split()
            if c.startswith("st-key-find_card_")
        )
        plant_name(owner, consultant_id)
        reload(page, "Find a consultant")
        shows_the_planted_text_as_text(page, shots, "find")
        # The profile's title is the name itself, shown as text.
        goto(page, f"{app.url}/consultant?id={consultant_id}", re.compile(re.escape(SHOWN)))
        shows_the_planted_text_as_text(page, shots, "consultant-profile")
        assert not seeker.fetched_from_the_planted_host()
    finally:
        seeker.close()

    # Requests: the sender of a waiting request gets the planted name; their consultant opens Requests.
    sender, receiver = owner.execute(
        "select seeker_id, consultant_id from public.consultation_requests where status = 'pending' "
        "order by created_at limit 1"
    ).fetchone()
    plant_name(owner, sender)
    consultant = Visit(browser, app, username_of(owner, receiver))
    try:
        open_page(consultant.page, "Requests", "Requests")
        shows_the_planted_text_as_text(consultant.page, shots, "requests")
        assert not consultant.fetched_from_the_planted_host()
    finally:
        consultant.close()

    # The admin's verification queue: the oldest waiting competency's evidence is the planted text.
    # (Made the oldest waiting item, so that it is on the queue's first page.)
    owner.execute(
        "update public.competencies set evidence_body = %s, created_at = '2000-01-01' where id = "
        "(select id from public.competencies where verification_status = 'self_attested' order by id limit 1)",
        (PLANTED,),
    )
    admin = Visit(browser, app, "admin")
    try:
        open_page(admin.page, "Admin", "Admin")
        shows_the_planted_text_as_text(admin.page, shots, "admin-queue")
        assert not admin.fetched_from_the_planted_host()
    finally:
        admin.close()
