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
from tests.app_server import ARTIFACTS, DESKTOP, AppServer, running_app, wait_for_sign_in_form

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "browser"
COOKIE = "peer_portal_auth"
STEP_TIMEOUT = 30_000  # ms: Streamlit renders asynchronously; every wait is bounded
PHONE = {"width": 390, "height": 844}


def wait_until_idle(page: Page, timeout: float = STEP_TIMEOUT) -> None:
    """Wait until the script run is over and no lazily loaded widget still shows its skeleton."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)


def submit_after_typing(page: Page, button_name: str, answered) -> None:
    """Commit the typed field first (Streamlit commits on blur; a click made while it still has focus can be
    swallowed by the rerun that follows, seen on a loaded machine), then click, and click once more if the app
    never answered."""
    page.evaluate("() => document.activeElement?.blur()")
    wait_until_idle(page)
    for _ in range(2):
        page.get_by_role("button", name=button_name, exact=True).click()
        try:
            expect(answered).to_be_visible(timeout=STEP_TIMEOUT)
            return
        except AssertionError:
            continue
    expect(answered).to_be_visible(timeout=STEP_TIMEOUT)


def shot(page: Page, name: str, *, settle: bool = True) -> Path:
    """Screenshot of the whole page. Streamlit scrolls inside its main area, not the document, so
    the viewport is stretched to the main area's height for the picture, then restored."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    if settle:
        wait_until_idle(page)
    viewport = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 0")
    if viewport and height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": min(height, 6000)})
        try:
            if settle:
                wait_until_idle(page)
            page.screenshot(path=str(path), full_page=True, animations="disabled")
        finally:
            page.set_viewport_size(viewport)
    else:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


@pytest.fixture(scope="module")
def app() -> Iterator[AppServer]:
    with running_app("app-server-browser.log", "browser") as server:
        yield server


@pytest.fixture(scope="module")
def warm_app(app: AppServer, browser: Browser) -> AppServer:
    """Load the sign-in page once: the first run of app.py builds the database (timed)."""
    wait_for_sign_in_form(app, browser, label="browser", screenshot=SHOTS / "00-first-load-failed.png")
    return app


def sign_in_form_shown(page: Page) -> bool:
    return page.get_by_role("button", name="Sign in", exact=True).count() > 0


def auth_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == COOKIE), None)


def test_sign_in_edit_profile_and_reload_keeps_session(warm_app: AppServer, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(warm_app.url, wait_until="domcontentloaded")
        expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
        shot(page, "01-sign-in")

        page.get_by_label("Username", exact=True).fill("seeker01")
        page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        clicked = time.monotonic()
        home_title = page.get_by_role("heading", name=re.compile(r"^Welcome"))
        try:
            expect(home_title).to_be_visible(timeout=STEP_TIMEOUT)
            print(f"[browser] sign-in click to Home: {time.monotonic() - clicked:.1f}s")
        except AssertionError:
            path = shot(page, "02-after-sign-in-stuck", settle=False)
            interim = page.get_by_text("Signed in. Opening your home page").count() > 0
            cookie = auth_cookie(page)
            raise AssertionError(
                "Home never appeared after signing in "
                f"(screenshot {path}; 'Signed in. Opening your home page…' shown: {interim}; "
                f"cookie {COOKIE} set in the browser: {cookie is not None}). "
                "The cookie component's rerun did not happen."
            ) from None
        shot(page, "02-home")
        assert auth_cookie(page) is not None, f"signed in, but the browser holds no {COOKIE} cookie"

        page.get_by_test_id("stSidebarNav").get_by_role("link", name="My profile").click()
        expect(page.get_by_role("heading", name="My profile")).to_be_visible(timeout=STEP_TIMEOUT)
        pronouns = page.get_by_label("Pronouns")
        expect(pronouns).to_be_visible(timeout=STEP_TIMEOUT)
        shot(page, "03-my-profile")

        new_pronouns = f"xe/xem {uuid.uuid4().hex[:6]}"
        pronouns.fill(new_pronouns)
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_text("Profile saved.")).to_be_visible(timeout=STEP_TIMEOUT)
        # The saved form is drawn afresh (new widget keys); until the run ends the old one may still be on the
        # page, stale, below the message.
        wait_until_idle(page)
        expect(pronouns).to_have_value(new_pronouns)
        shot(page, "04-profile-saved")

        page.reload(wait_until="domcontentloaded")
        try:
            expect(page.get_by_role("heading", name="My profile")).to_be_visible(timeout=STEP_TIMEOUT)
        except AssertionError:
            path = shot(page, "05-after-reload-failed", settle=False)
            raise AssertionError(
                f"after a reload My profile did not come back (screenshot {path}; sign-in form shown: "
                f"{sign_in_form_shown(page)}; cookie {COOKIE} in the browser: {auth_cookie(page) is not None})"
            ) from None
        expect(page.get_by_label("Pronouns")).to_have_value(new_pronouns, timeout=STEP_TIMEOUT)
        assert not sign_in_form_shown(page), "the sign-in form is shown after a reload"
        expect(page.get_by_test_id("stSidebar").get_by_text("Signed in as")).to_be_visible(timeout=STEP_TIMEOUT)
        shot(page, "05-after-reload")

        # The same browser on a phone: a new context with the same cookies, straight to My profile.
        phone = browser.new_context(viewport=PHONE, storage_state=context.storage_state())
        try:
            phone_page = phone.new_page()
            phone_page.goto(f"{warm_app.url}/profile", wait_until="domcontentloaded")
            expect(phone_page.get_by_label("Pronouns")).to_have_value(new_pronouns, timeout=STEP_TIMEOUT)
            shot(phone_page, "06-my-profile-phone")
            phone_page.get_by_test_id("stExpandSidebarButton").click()
            expect(phone_page.get_by_test_id("stSidebarNav").get_by_role("link", name="My profile")).to_be_visible(
                timeout=STEP_TIMEOUT
            )
            shot(phone_page, "07-phone-sidebar")
        finally:
            phone.close()
    finally:
        context.close()


def test_wrong_password_is_refused(warm_app: AppServer, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(warm_app.url, wait_until="domcontentloaded")
        expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
        page.get_by_label("Username", exact=True).fill("seeker02")
        page.get_by_label("Password", exact=True).fill("not-the-password")
        submit_after_typing(page, "Sign in", page.get_by_text(re.compile(r"username or password is incorrect")))
        shot(page, "08-wrong-password")
        assert sign_in_form_shown(page)
        assert page.get_by_role("heading", name=re.compile(r"^Welcome")).count() == 0
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
    context = browser.new_context(viewport=DESKTOP)
    context.add_cookies([_cookie(forged, warm_app)])
    page = context.new_page()
    try:
        page.goto(warm_app.url, wait_until="domcontentloaded")
        expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
        assert page.get_by_role("heading", name=re.compile(r"^Welcome")).count() == 0
        shot(page, "09-forged-cookie-refused")
    finally:
        context.close()
    # The same claims signed with the app's own key are refused too: a cookie opens an account only while the
    # server-side session it names is open (portal.sessions); the key alone mints nothing.
    key = (warm_app.data_dir / "cookie_key").read_text().strip()
    signed = jwt.encode({"username": "seeker02", "exp_date": expires}, key, algorithm="HS256")
    made_up_session = jwt.encode(
        {"username": "seeker02", "exp_date": expires, "uid": str(uuid.uuid4()), "sid": str(uuid.uuid4())},
        key,
        algorithm="HS256",
    )
    for cookie in (signed, made_up_session):
        context = browser.new_context(viewport=DESKTOP)
        context.add_cookies([_cookie(cookie, warm_app)])
        page = context.new_page()
        try:
            page.goto(warm_app.url, wait_until="domcontentloaded")
            expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
            assert page.get_by_role("heading", name=re.compile(r"^Welcome")).count() == 0
        finally:
            context.close()


def test_an_address_opened_signed_out_signs_in_and_lands_there(warm_app: AppServer, browser: Browser) -> None:
    """A bookmark or an email's link (/find, /consultant?id=...) opened signed out: sign-in shows at that address
    (not "Page not found"), and signing in opens the page asked for, with its query."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{warm_app.url}/find", wait_until="domcontentloaded")
        expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
        assert page.get_by_text("Page not found").count() == 0
        page.get_by_label("Username", exact=True).fill("seeker02")
        page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
        submit_after_typing(page, "Sign in", page.get_by_role("heading", name="Find a consultant"))
        assert page.url.rstrip("/").endswith("/find"), page.url
        shot(page, "09-deep-link-after-sign-in")
    finally:
        context.close()
