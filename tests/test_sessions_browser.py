"""Chromium: a copied sign-in cookie dies with its session (issue 16, item 8).

The attempt from the issue, made again in a real browser against the real app: sign in, copy the
cookie, then sign out / change the password / sign out everywhere / close the account, and replay
the copied cookie in a fresh browser context. Before, each replay opened the account; now each shows
the sign-in page. Screenshots go to test-artifacts/sessions/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import bcrypt
import jwt
import pytest

from portal.db import SERVICE, APIError, Claims
from portal.db.bootstrap import EmbeddedDatabase
from portal.db.local import LocalBackend
from portal.demo import DEMO_PASSWORD
from tests.app_server import (
    ARTIFACTS,
    WELCOME,
    AppServer,
    click,
    expect_drawn,
    new_context,
    notice,
    open_page,
    reload,
    running_app,
    screenshot,
    sign_in,
    wait_for_sign_in_form,
)

try:
    from playwright.sync_api import Browser, BrowserContext, Page
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "sessions"
COOKIE = "peer_portal_auth"
PASSWORD = "Good-pass-123"


@pytest.fixture(scope="module")
def app(browser: Browser) -> Iterator[AppServer]:
    with running_app("app-server-sessions.log", "sessions") as server:
        wait_for_sign_in_form(server, browser, label="sessions")
        yield server


@pytest.fixture(scope="module")
def backend(app: AppServer) -> Iterator[LocalBackend]:
    """The app's own database, reached as the API role (for accounts with a known password)."""
    socket_dir = (app.pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
    db = EmbeddedDatabase(data_dir=app.data_dir, socket_dir=socket_dir, superuser_uri="", server=None)
    b = LocalBackend(db.api_conninfo, max_size=2)
    yield b
    b.close()


def new_account(backend: LocalBackend) -> tuple[str, str]:
    username = f"cookie_{uuid.uuid4().hex[:8]}"
    user_id = backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": "Cookie Tester",
            "p_password_hash": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode(),
        },
        as_user=SERVICE,
    )
    return str(user_id), username


def shot(page: Page, name: str) -> None:
    screenshot(page, SHOTS / f"{name}.png")


def auth_cookie(context: BrowserContext) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def signed_in(browser: Browser, app: AppServer, username: str, password: str) -> tuple[BrowserContext, Page, dict]:
    """A new browser signed in as `username`; returns it with the sign-in cookie it was given (written before the
    cookie component reports, and sign_in waits for the app to be idle, so it is there)."""
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, app.url, username, password)
    cookie = auth_cookie(context)
    assert cookie is not None, f"signed in as {username}, but the browser holds no {COOKIE} cookie"
    return context, page, cookie


def replay(browser: Browser, app: AppServer, cookie: dict, name: str) -> bool:
    """Open the app in a fresh browser holding only `cookie`: True when it opens an account, False when it shows
    the sign-in page."""
    context = new_context(browser)
    context.add_cookies([{"name": COOKIE, "value": cookie["value"], "domain": cookie["domain"], "path": "/"}])
    page = context.new_page()
    try:
        page.goto(app.url, wait_until="domcontentloaded")
        expect_drawn(page, re.compile(r"^(Welcome, |Sign in$)"))
        shot(page, name)
        opened = page.get_by_role("heading", name=WELCOME).count() > 0
        form = page.get_by_role("button", name="Sign in", exact=True)
        assert opened != (form.count() > 0), "both the sign-in form and an account's home page are shown"
        if not opened:
            assert page.get_by_test_id("stSidebar").get_by_text("Signed in as").count() == 0
        return opened
    finally:
        context.close()


def click_keyed(page: Page, key: str) -> None:
    click(page, page.locator(f".st-key-{key} button"))


def test_the_cookie_names_the_account_and_a_session(browser: Browser, app: AppServer) -> None:
    context, _, cookie = signed_in(browser, app, "seeker03", DEMO_PASSWORD)
    context.close()
    claims = jwt.decode(cookie["value"], (app.data_dir / "cookie_key").read_text().strip(), algorithms=["HS256"])
    assert claims["username"] == "seeker03"
    assert uuid.UUID(claims["uid"]) and uuid.UUID(claims["sid"])


def test_after_sign_out_the_copied_cookie_opens_nothing(browser: Browser, app: AppServer) -> None:
    context, page, cookie = signed_in(browser, app, "seeker04", DEMO_PASSWORD)
    try:
        assert replay(browser, app, cookie, "01-copied-cookie-before-sign-out"), "the fresh cookie did not sign in"
        open_page(page, "Account", "Account")
        click_keyed(page, "sign_out")
        expect_drawn(page, "Sign in")
        shot(page, "02-signed-out")
    finally:
        context.close()
    assert not replay(browser, app, cookie, "03-copied-cookie-after-sign-out")


def test_after_a_password_change_the_old_cookie_opens_nothing(
    browser: Browser, app: AppServer, backend: LocalBackend
) -> None:
    _, username = new_account(backend)
    context, page, old_cookie = signed_in(browser, app, username, PASSWORD)
    try:
        open_page(page, "Account", "Account")
        page.get_by_label("Current password", exact=True).fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill("Newer-pass-456!")
        page.get_by_label("Repeat new password", exact=True).fill("Newer-pass-456!")
        click(page, page.get_by_role("button", name="Change password"))
        notice(page, "Your password was changed.")
        shot(page, "04-password-changed")
        # This browser goes on with a new cookie, naming the session the change opened (written by the cookie
        # component, whose report the idle app has had).
        new_cookie = auth_cookie(context)
        assert new_cookie is not None and new_cookie["value"] != old_cookie["value"], "no new cookie was issued"
        reload(page, "Account")
    finally:
        context.close()
    assert not replay(browser, app, old_cookie, "05-old-cookie-after-password-change")
    assert replay(browser, app, new_cookie, "06-new-cookie-after-password-change")


def test_sign_out_everywhere_kills_every_browsers_cookie(
    browser: Browser, app: AppServer, backend: LocalBackend
) -> None:
    _, username = new_account(backend)
    laptop, _, laptop_cookie = signed_in(browser, app, username, PASSWORD)
    phone, phone_page, phone_cookie = signed_in(browser, app, username, PASSWORD)
    try:
        open_page(phone_page, "Account", "Account")
        click_keyed(phone_page, "sign_out_everywhere")
        expect_drawn(phone_page, "Sign in")
    finally:
        phone.close()
        laptop.close()
    assert not replay(browser, app, laptop_cookie, "07-other-browser-after-sign-out-everywhere")
    assert not replay(browser, app, phone_cookie, "08-this-browser-after-sign-out-everywhere")


def test_a_closed_accounts_cookie_shows_the_sign_in_page(
    browser: Browser, app: AppServer, backend: LocalBackend
) -> None:
    # Deleted by its owner, on the Account page.
    _, username = new_account(backend)
    context, page, cookie = signed_in(browser, app, username, PASSWORD)
    try:
        open_page(page, "Account", "Account")
        click(page, page.get_by_test_id("stExpander").get_by_text("Delete my account").first)
        confirm = page.locator(".st-key-delete_confirm input")
        confirm.fill(username)
        confirm.press("Enter")
        click_keyed(page, "delete_account")
        notice(page, "Your account was deleted.")
        shot(page, "09-account-deleted")
    finally:
        context.close()
    assert not replay(browser, app, cookie, "10-deleted-accounts-cookie")
    # The username is never reissued, so no new account can answer to the old cookie's name either.
    with pytest.raises(APIError) as refused:
        new_account_named(backend, username)
    assert refused.value.code == "23505"
    assert not replay(browser, app, cookie, "11-deleted-accounts-cookie-after-a-try-to-reuse-the-name")

    # Closed by an admin.
    user_id, username = new_account(backend)
    context, _, cookie = signed_in(browser, app, username, PASSWORD)
    context.close()
    admin = str(backend.rpc("auth_get_login", {"p_username": "admin"}, as_user=SERVICE)["id"])
    backend.rpc(
        "admin_close_account",
        {"p_user": user_id, "p_reason": "Closed by a test, for good reason."},
        as_user=Claims.user(admin),
    )
    assert not replay(browser, app, cookie, "12-admin-closed-accounts-cookie")


def new_account_named(backend: LocalBackend, username: str) -> None:
    backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"again_{username}@test.example",
            "p_display_name": "Someone Else",
            "p_password_hash": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode(),
        },
        as_user=SERVICE,
    )
