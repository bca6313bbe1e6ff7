"""Chromium: member-typed text is text, never markup (issue 23, item 2), replayed in a real browser.

The attack: a display name `![r](http://tracker.invalid/s.png)[Verify licence](http://tracker.invalid/ph)` made the
consultant's browser fetch a tracking pixel on Requests and showed a "Verify licence" link on every seeker's Find
results and on the profile; the same text as competency evidence did it on the admin's verification queue. Names
saved before the database's name rule (migration 20261206400200) are planted directly, with the rule's trigger off
for that one statement, as such a name would still sit in a database. Each page is checked in the DOM (no <img> or
<a> reaching the planted host, and nothing fetched from it) and for the literal text being visible.
Screenshots go to test-artifacts/member-text/.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from portal.db.bootstrap import EmbeddedDatabase
from portal.demo import DEMO_PASSWORD
from tests.app_server import ARTIFACTS, DESKTOP, AppServer, running_app, wait_for_sign_in_form

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

HOST = "tracker.invalid"
PLANTED = f"![r](http://{HOST}/s.png)[Verify licence](http://{HOST}/ph)"
SHOTS = ARTIFACTS / "member-text"
STEP_TIMEOUT = 30_000  # ms


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
    """One signed-in browser; every request it makes is recorded."""

    def __init__(self, browser: Browser, app: AppServer, username: str) -> None:
        self.app = app
        self.context = browser.new_context(viewport=DESKTOP)
        self.page: Page = self.context.new_page()
        self.requested: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.goto(app.url, wait_until="domcontentloaded")
        self.page.get_by_label("Username", exact=True).fill(username)
        self.page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        expect(self.page.get_by_role("heading", name="Welcome", exact=False)).to_be_visible(timeout=STEP_TIMEOUT)

    def open(self, address: str) -> Page:
        self.page.goto(f"{self.app.url}/{address}", wait_until="domcontentloaded")
        self.page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=STEP_TIMEOUT)
        return self.page

    def close(self) -> None:
        self.context.close()


def shows_the_planted_text_as_text(page: Page, name: str) -> None:
    expect(page.get_by_text("Verify licence", exact=False).first).to_be_visible(timeout=STEP_TIMEOUT)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")
    assert page.locator(f'img[src*="{HOST}"]').count() == 0, f"{name}: an image from the planted host"
    assert page.locator(f'a[href*="{HOST}"]').count() == 0, f"{name}: a link to the planted host"
    shown = page.evaluate("document.body.innerText").replace("\u2060", "")
    assert PLANTED in shown, f"{name}: the literal text is not shown"


def test_a_planted_name_and_evidence_are_text_on_every_page(browser: Browser, app: AppServer, owner) -> None:
    # Find and the profile: a seeker's first result gets the planted name.
    seeker = Visit(browser, app, "seeker01")
    try:
        card = seeker.open("find").locator('[class*="st-key-find_card_"]').first
        expect(card).to_be_visible(timeout=STEP_TIMEOUT)
        consultant_id = next(
            c.removeprefix("st-key-find_card_")
            for c in card.get_attribute("class").split()
            if c.startswith("st-key-find_card_")
        )
        plant_name(owner, consultant_id)
        shows_the_planted_text_as_text(seeker.open("find"), "find")
        shows_the_planted_text_as_text(seeker.open(f"consultant?id={consultant_id}"), "consultant-profile")
        assert not [url for url in seeker.requested if HOST in url]
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
        shows_the_planted_text_as_text(consultant.open("requests"), "requests")
        assert not [url for url in consultant.requested if HOST in url]
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
        page = admin.open("admin")
        shows_the_planted_text_as_text(page, "admin-queue")
        assert not [url for url in admin.requested if HOST in url]
    finally:
        admin.close()
