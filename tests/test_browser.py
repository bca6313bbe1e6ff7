"""Browser journey: the real app in Debian's Chromium, driven by Playwright.

Sign in as a demo seeker, open My profile from the sidebar, change the
pronouns, save, reload the page and check the session (signed cookie) and the
saved value survive. A second test checks a wrong password is refused.
Screenshots of every step go to test-artifacts/browser/.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.demo import DEMO_PASSWORD
from tests.app_server import (
    ARTIFACTS,
    WELCOME,
    AppServer,
    click,
    fill_sign_in,
    goto,
    new_context,
    notice,
    open_page,
    reload,
    running_app,
    screenshot,
    wait_for_sign_in_form,
)

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "browser"
COOKIE = "peer_portal_auth"
PHONE = {"width": 390, "height": 844}


def shot(page: Page, name: str, *, idle: bool = True) -> Path:
    return screenshot(page, SHOTS / f"{name}.png", idle=idle)


@pytest.fixture(scope="module")
def app() -> Iterator[AppServer]:
    with running_app("app-server-browser.log", "browser") as server:
        yield server


@pytest.fixture(scope="module")
def warm_app(app: AppServer, browser: Browser) -> AppServer:
    """Load the sign-in page once: the first run of app.py builds the database (timed)."""
    wait_for_sign_in_form(app, browser, label="browser", screenshot_path=SHOTS / "00-first-load-failed.png")
    return app


def sign_in_form_shown(page: Page) -> bool:
    return page.get_by_role("button", name="Sign in", exact=True).count() > 0


def auth_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == COOKIE), None)


def test_sign_in_edit_profile_and_reload_keeps_session(warm_app: AppServer, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    try:
        goto(page, warm_app.url, "Sign in")
        shot(page, "01-sign-in")

        clicked = time.monotonic()
        try:
            fill_sign_in(page, "seeker01", DEMO_PASSWORD)
            print(f"[browser] sign-in click to Home: {time.monotonic() - clicked:.1f}s")
        except AssertionError as failure:
            path = shot(page, "02-after-sign-in-stuck", idle=False)
            interim = page.get_by_text("Signed in. Opening your home page").count() > 0
            raise AssertionError(
                f"Home never appeared after signing in (screenshot {path}; 'Signed in. Opening your home page…' "
                f"shown: {interim}; cookie {COOKIE} set in the browser: {auth_cookie(page) is not None}): {failure}"
            ) from None
        shot(page, "02-home")
        assert auth_cookie(page) is not None, f"signed in, but the browser holds no {COOKIE} cookie"

        open_page(page, "My profile", "My profile")
        pronouns = page.get_by_label("Pronouns")
        shot(page, "03-my-profile")

        new_pronouns = f"xe/xem {uuid.uuid4().hex[:6]}"
        pronouns.fill(new_pronouns)
        click(page, page.get_by_role("button", name="Save profile"))
        # The saved form is drawn afresh (new widget keys); notice() waits for the run's end, until which the old
        # one may still be on the page, stale, below the message.
        notice(page, "Profile saved.")
        expect(pronouns).to_have_value(new_pronouns)
        shot(page, "04-profile-saved")

        try:
            reload(page, "My profile")
        except AssertionError as failure:
            path = shot(page, "05-after-reload-failed", idle=False)
            raise AssertionError(
                f"after a reload My profile did not come back (screenshot {path}; sign-in form shown: "
                f"{sign_in_form_shown(page)}; cookie {COOKIE} in the browser: {auth_cookie(page) is not None}): "
                f"{failure}"
            ) from None
        expect(page.get_by_label("Pronouns")).to_have_value(new_pronouns)
        assert not sign_in_form_shown(page), "the sign-in form is shown after a reload"
        expect(page.get_by_test_id("stSidebar").get_by_text("Signed in as")).to_be_visible()
        shot(page, "05-after-reload")

        # The same browser on a phone: a new context with the same cookies, straight to My profile.
        phone = new_context(browser, viewport=PHONE, storage_state=context.storage_state())
        try:
            phone_page = phone.new_page()
            goto(phone_page, f"{warm_app.url}/profile", "My profile")
            expect(phone_page.get_by_label("Pronouns")).to_have_value(new_pronouns)
            shot(phone_page, "06-my-profile-phone")
            click(phone_page, phone_page.get_by_test_id("stExpandSidebarButton"))
            expect(phone_page.get_by_test_id("stSidebarNav").get_by_role("link", name="My profile")).to_be_visible()
            shot(phone_page, "07-phone-sidebar")
        finally:
            phone.close()
    finally:
        context.close()


def test_wrong_password_is_refused(warm_app: AppServer, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    try:
        goto(page, warm_app.url, "Sign in")
        page.get_by_label("Username", exact=True).fill("seeker02")
        page.get_by_label("Password", exact=True).fill("not-the-password")
        click(page, page.get_by_role("button", name="Sign in", exact=True))
        notice(page, re.compile(r"username or password is incorrect"))
        shot(page, "08-wrong-password")
        assert sign_in_form_shown(page)
        assert page.get_by_role("heading", name=WELCOME).count() == 0
        assert auth_cookie(page) is None, f"a refused sign-in left a {COOKIE} cookie"
    finally:
        context.close()


def _cookie(value: str, app: AppServer) -> dict:
    host = app.url.split("//", 1)[1].split(":", 1)[0]
    return {"name": COOKIE, "value": value, "domain": host, "path": "/"}


def test_a_cookie_signed_with_another_key_is_refused(warm_app: AppServer, browser: Browser) -> None:
    import jwt

    expires = time.time() + 3600
    other_key = "someone-elses-key-that-is-long-enough-for-hs256"
    forged = jwt.encode({"username": "admin", "exp_date": expires}, other_key, algorithm="HS256")
    context = new_context(browser)
    context.add_cookies([_cookie(forged, warm_app)])
    page = context.new_page()
    try:
        goto(page, warm_app.url, "Sign in")  # drawn and idle: the cookie component has reported the cookie
        assert page.get_by_role("heading", name=WELCOME).count() == 0
        shot(page, "09-forged-cookie-refused")
    finally:
        context.close()
    # The same claims signed with the app's own key are refused too: a cookie opens an account only while the
    # server-side session it names is open (portal.sign_in_sessions); the key alone mints nothing.
    key = (warm_app.data_dir / "cookie_key").read_text().strip()
    signed = jwt.encode({"username": "seeker02", "exp_date": expires}, key, algorithm="HS256")
    made_up_session = jwt.encode(
        {"username": "seeker02", "exp_date": expires, "uid": str(uuid.uuid4()), "sid": str(uuid.uuid4())},
        key,
        algorithm="HS256",
    )
    for cookie in (signed, made_up_session):
        context = new_context(browser)
        context.add_cookies([_cookie(cookie, warm_app)])
        page = context.new_page()
        try:
            goto(page, warm_app.url, "Sign in")
            assert page.get_by_role("heading", name=WELCOME).count() == 0
        finally:
            context.close()


def test_an_address_opened_signed_out_signs_in_and_lands_there(warm_app: AppServer, browser: Browser) -> None:
    """A bookmark or an email's link (/find, /consultant?id=...) opened signed out: sign-in shows at that address
    (not "Page not found"), and signing in opens the page asked for, with its query."""
    context = new_context(browser)
    page = context.new_page()
    try:
        goto(page, f"{warm_app.url}/find", "Sign in")
        assert page.get_by_text("Page not found").count() == 0
        fill_sign_in(page, "seeker02", DEMO_PASSWORD, lands_on="Find a consultant")
        assert page.url.rstrip("/").endswith("/find"), page.url
        shot(page, "09-deep-link-after-sign-in")
    finally:
        context.close()
