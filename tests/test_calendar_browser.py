"""A consultant connects their own calendar on My availability, in Chromium (issue 27).

A real Radicale on loopback holds an event tomorrow; consultant01 pastes the calendar's secret iCalendar address
(Radicale's export of the collection), the portal reads it at once and says so, shows the address only masked,
and the week preview marks that time busy without saying why. Removing the calendar removes its busy time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import caldav
import pytest

from portal.demo import DEMO_PASSWORD, demo_world
from tests.app_server import (
    ARTIFACTS,
    AppServer,
    Shots,
    click,
    new_context,
    notice,
    open_page,
    running_app,
    sign_in,
    wait_for_sign_in_form,
)

try:
    from playwright.sync_api import Browser, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

CONSULTANT = "consultant01"


@pytest.fixture(scope="module")
def app(browser: Browser) -> Iterator[AppServer]:
    # The test's Radicale serves plain http on loopback: allowed here only (README: never on a server).
    with running_app("app-server-calendar.log", "calendar", {"PORTAL_CALENDAR_LOOPBACK": "1"}) as server:
        wait_for_sign_in_form(server, browser, label="calendar")
        yield server


def test_a_consultant_connects_their_calendar_and_sees_busy_times_without_why(app, browser, radicale) -> None:
    zone = ZoneInfo(next(p.timezone for p in demo_world() if p.username == CONSULTANT))
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(10), zone)
    with caldav.DAVClient(url=radicale.url, username="consultant01", password="app", require_tls=False) as client:
        calendar = client.principal().make_calendar(name="Private", cal_id="private-life")
        calendar.save_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//portal tests//EN\r\nBEGIN:VEVENT\r\nUID:dentist\r\n"
            f"DTSTART:{start.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{(start + timedelta(minutes=50)).astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\n"
            "SUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    address = f"{radicale.url.rstrip('/')}/consultant01/private-life/"
    shots = Shots(ARTIFACTS / "calendar", "calendar")
    context = new_context(browser)
    page = context.new_page()
    try:
        sign_in(page, app.url, CONSULTANT, DEMO_PASSWORD)
        open_page(page, "My availability", "My availability")
        click(page, page.get_by_text("A secret iCalendar address (Google, Outlook, Apple)"))
        page.get_by_label("Name for it (only you see it)").fill("Private life")
        page.get_by_label("Secret address in iCal format", exact=True).fill(address)
        click(page, page.get_by_role("button", name="Connect"))
        notice(page, "Read 1 calendar.")
        shots(page, "connected")
        body = page.locator("body")
        expect(body).to_contain_text("Private life")
        assert address not in body.inner_text() and "private-life" not in body.inner_text()  # shown masked only
        # The preview names the busy time on the consultant's clock, never what it is.
        expect(body).to_contain_text("busy in your calendar 10:00–10:50")
        assert "Dentist" not in body.inner_text()
        click(page, page.locator("[class*='st-key-calendar_remove_'] button"))  # this calendar's own Remove
        notice(page, "Calendar removed; its busy times are gone.")
        expect(body).not_to_contain_text("busy in your calendar")
        shots(page, "removed")
    finally:
        context.close()
