"""Chromium: nothing a newcomer reads is cut off (issue 26, item 10), measured at 390 px (a phone) and 1,280 px.

- The Book tab's zone switch ("Show times in": "Yours (London time)" / "The consultant's (New York time)") for a
  seeker on London time booking with a New York consultant: every option inside the control, its words whole.
- Admin's six tabs: none scrolled out of the tab bar (the selected one was hidden), so every tab is in view.
- My practice's competency grid at 1,280 px: every column inside the grid's frame (it showed "4 · Trainer /" and
  "Training h…", the last columns beyond its edge).
- Find after a search: the results begin on the first screen (the filters, folded, no longer fill a phone's).

A text is whole when its element's scrollWidth is at most its clientWidth and it lies inside its container's box.
The layout rules are assets/portal.css (wrapping tabs and segmented controls), views/my_practice.py's column
widths and views/find.py's folding filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from portal.db import SERVICE
from portal.db.bootstrap import DATABASE, OWNER
from portal.db.local import LocalBackend
from portal.demo import DEMO_PASSWORD
from tests.app_server import (
    ARTIFACTS,
    AppServer,
    click,
    goto,
    new_context,
    running_app,
    screenshot,
    sign_in,
    wait_for_sign_in_form,
)
from tests.people_support import make_account, make_consultant

try:
    from playwright.sync_api import Browser, Page
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "cut-off"
PASSWORD = "Good-pass-123"  # make_account's
WIDTHS = {390: {"width": 390, "height": 844}, 1280: {"width": 1280, "height": 900}}

# Each element matched by the selector, inside `within`: its text whole (no overflow) and its box inside `within`'s.
CUT_OFF = """([within, selector]) => {
  const frame = document.querySelector(within);
  if (!frame) return null;
  const box = frame.getBoundingClientRect();
  return [...frame.querySelectorAll(selector)].filter((element) => {
    const own = element.getBoundingClientRect();
    const whole = element.scrollWidth <= element.clientWidth;
    const inside = own.left >= box.left - 0.5 && own.right <= box.right + 0.5;
    return !(whole && inside);
  }).map((element) => element.textContent);
}"""


@pytest.fixture(scope="module")
def app(browser: Browser) -> Iterator[AppServer]:
    with running_app("app-server-cut-off.log", "cut-off") as server:
        wait_for_sign_in_form(server, browser, label="cut-off")
        yield server


@pytest.fixture(scope="module")
def london_seeker(app: AppServer) -> str:
    """A seeker on London time working with a New York consultant open at 10:00 every day: the Book tab offers the
    switch between the two zones. Made in the app's own embedded database (reached through its socket)."""
    socket_dir = (app.pgdata / "postmaster.pid").read_text().splitlines()[4]

    class AppDatabase:
        owner_conninfo = f"host={socket_dir} dbname={DATABASE} user={OWNER}"
        api_conninfo = f"host={socket_dir} dbname={DATABASE} user=authenticator"

    backend = LocalBackend(AppDatabase.api_conninfo, max_size=2)
    try:
        _, consultant_id = make_consultant(backend, AppDatabase)
        seeker = make_account(backend, PASSWORD)
        seeker_id = backend.rpc("auth_get_login", {"p_username": seeker}, as_user=SERVICE)["id"]
    finally:
        backend.close()
    with psycopg.connect(AppDatabase.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = 'America/New_York' where id = %s", (consultant_id,))
        conn.execute("update public.profiles set timezone = 'Europe/London' where id = %s", (seeker_id,))
        conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "select %s, d, '10:00', '11:00' from generate_series(1, 7) d",
            (consultant_id,),
        )
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'Weekly consultation, please.', 'accepted') returning id",
            (seeker_id, consultant_id),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, seeker_id, consultant_id),
        )
    return seeker


def signed_in(browser: Browser, app: AppServer, username: str, password: str, width: int):
    context = new_context(browser, viewport=WIDTHS[width])
    page = context.new_page()
    sign_in(page, app.url, username, password)
    return context, page


def cut_off(page: Page, within: str, selector: str, picture: Path) -> list[str]:
    """The texts cut off (a screenshot of the page either way, for a person to look at)."""
    screenshot(page, picture)
    found = page.evaluate(CUT_OFF, [within, selector])
    assert found is not None, f"nothing matches {within} on {page.url}"
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_the_book_tabs_zone_switch_is_whole(app: AppServer, browser: Browser, london_seeker: str, width: int):
    context, page = signed_in(browser, app, london_seeker, PASSWORD, width)
    try:
        goto(page, f"{app.url}/appointments", "Appointments")
        switch = page.get_by_role("radiogroup", name="Show times in")
        switch.wait_for()
        assert switch.get_by_role("radio").count() == 2
        assert (
            cut_off(
                page,
                '[data-testid="stButtonGroup"] [role="radiogroup"]',
                "button, button p",
                SHOTS / f"book-{width}.png",
            )
            == []
        )
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_every_admin_tab_is_in_view(app: AppServer, browser: Browser, width: int):
    context, page = signed_in(browser, app, "admin", DEMO_PASSWORD, width)
    try:
        goto(page, f"{app.url}/admin", "Admin")
        tabs = page.locator('[data-testid="stTabs"] [role="tablist"]').first
        assert tabs.get_by_role("tab").count() >= 6
        assert (
            cut_off(page, '[data-testid="stTabs"] [role="tablist"]', '[role="tab"]', SHOTS / f"admin-{width}.png") == []
        )
        # The last tab, selected, is still in view (it used to be scrolled away with the bar).
        click(page, tabs.get_by_role("tab").last)
        assert tabs.get_by_role("tab", selected=True).is_visible()
        assert (
            cut_off(
                page,
                '[data-testid="stTabs"] [role="tablist"]',
                '[aria-selected="true"]',
                SHOTS / f"admin-{width}-last.png",
            )
            == []
        )
    finally:
        context.close()


def test_my_practice_grid_fits_its_frame_at_1280(app: AppServer, browser: Browser):
    context, page = signed_in(browser, app, "consultant01", DEMO_PASSWORD, 1280)
    try:
        goto(page, f"{app.url}/practice", "My practice")
        grid = page.locator('[data-testid="stDataFrame"] .dvn-scroller').first
        grid.wait_for()
        screenshot(page, SHOTS / "practice-1280.png")
        widths = grid.evaluate("(grid) => [grid.scrollWidth, grid.clientWidth]")
        assert widths[0] <= widths[1], f"the grid's columns are {widths[0]} px wide in a {widths[1]} px frame"
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_find_shows_results_on_the_first_screen_once_a_search_has_run(app: AppServer, browser: Browser, width: int):
    context, page = signed_in(browser, app, "seeker01", DEMO_PASSWORD, width)
    try:
        goto(page, f"{app.url}/find", "Find a consultant")
        search = page.get_by_role("button", name=re.compile("Search$"))
        if not search.is_visible():  # folded: open the filters to search
            click(page, page.get_by_text(re.compile("^Filters")).first)
        click(page, search)
        results = page.get_by_role("heading", name="Results", level=2)
        results.wait_for()
        screenshot(page, SHOTS / f"find-{width}.png")
        top = results.evaluate("(heading) => heading.getBoundingClientRect().top")
        assert top < WIDTHS[width]["height"], (
            f"the results begin {top:.0f} px down a {WIDTHS[width]['height']} px screen"
        )
        assert not search.is_visible(), "the filters fold away once a search has run"
    finally:
        context.close()
