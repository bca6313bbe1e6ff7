"""Chromium: book, move and cancel a session from the week view (issue 15), a seeker in London and a consultant in
New York, across a daylight-saving change.

The consultant's one open time a day is 10:00 New York time. The United States moves its clocks on the second
Sunday of March (2027: the 14th), Europe on the last (the 28th): before the first change 10:00 in New York is
15:00 in London, between the two it is 14:00. That is months ahead, beyond the eight weeks the view opens on, so
the seeker reaches those weeks with "Go to week of". The test finds the next US change from today (the
expectations follow from the zones, and the gap is checked to shrink by an hour), so it holds whenever it runs.

The seeker books Wednesday of the week of the change (15:00 London time, 10:00 New York time, the Sunday of that
week already 14:00), moves it to the Tuesday after the change (14:00 London, 10:00 New York), and cancels it. The
confirmation and the cancel/move panel state the late rule before any click; the lists show the right times in
both zones, for the seeker and for the consultant.

The journey runs twice, as tests/test_journey_browser.py's does: on the app's own embedded database ("local",
a fresh data directory, tests/app_server.py; the two members are made in it and go with it), then in Supabase mode
(the app talking to PostgREST behind the gateway, on the Postgres 15 that `supabase db push` deployed: conftest's
supabase_stack). That database is shared by the whole session, so there the members are made with fresh usernames
and, when the module ends, the consultant leaves the directory (the Supabase journey counts every NY consultant a
search finds) and the notices still queued for the two are dropped (another test's sender run would deliver them).
A missing Chromium or Playwright skips locally and fails with CI=true (tests/conftest.py).
Screenshots go to test-artifacts/scheduling/local/ and test-artifacts/scheduling/supabase/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from portal.appointments import late_rule
from portal.db import SERVICE
from portal.db.bootstrap import DATABASE, OWNER
from portal.db.local import LocalBackend
from portal.week_grid import monday_of
from tests.app_server import (
    ARTIFACTS,
    STEP_TIMEOUT,
    AppServer,
    Shots,
    card,
    click,
    commit_typing,
    new_context,
    notice,
    open_page,
    running_app,
    sign_in,
    wait_for_sign_in_form,
)
from tests.people_support import make_account, make_consultant

try:
    from playwright.sync_api import Browser, Locator, Page, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

NEW_YORK, LONDON = "America/New_York", "Europe/London"
PASSWORD = "Good-pass-123"  # make_account's
CONSULTANT_NAME, SEEKER_NAME = "Dana Rivera", "Robin Hale"
LATE_HOURS = 24
SHOTS = ARTIFACTS / "scheduling"


@dataclass(frozen=True)
class AppDatabase:
    """The app server's own embedded Postgres, reached through its socket (as tests/conftest.py's embedded_db)."""

    socket_dir: str

    def conninfo(self, role: str) -> str:
        return f"host={self.socket_dir} dbname={DATABASE} user={role}"

    @property
    def owner_conninfo(self) -> str:
        return self.conninfo(OWNER)

    @property
    def api_conninfo(self) -> str:
        return self.conninfo("authenticator")

    @classmethod
    def of(cls, server: AppServer) -> AppDatabase:
        # postmaster.pid: pid, data directory, start time, port, socket directory, ...
        return cls((server.pgdata / "postmaster.pid").read_text().splitlines()[4])


@dataclass(frozen=True)
class Pair:
    consultant: str  # usernames
    seeker: str


def backend_of(app: AppServer) -> str:
    return app.extra_env.get("PORTAL_BACKEND", "local")


@pytest.fixture(scope="module", params=["local", "supabase"])
def app(request: pytest.FixtureRequest, browser: Browser) -> Iterator[AppServer]:
    """The app on its own embedded database, then in Supabase mode (PostgREST behind the gateway, on the
    CLI-deployed Postgres 15)."""
    if request.param == "local":
        started = running_app("app-server-scheduling.log", "scheduling")
    else:
        stack = request.getfixturevalue("supabase_stack")
        started = running_app("app-server-scheduling-supabase.log", "scheduling-supabase", stack["app_environment"])
    with started as server:
        wait_for_sign_in_form(server, browser, label=f"scheduling {request.param}")
        yield server


@pytest.fixture(scope="module")
def pair(request: pytest.FixtureRequest, app: AppServer) -> Iterator[Pair]:
    """A consultant in New York open at 10:00 every day (late after 24 hours' notice) and a client of theirs who
    keeps London time (and lives in New York State, where the consultant is licensed).

    Made in the database the app uses: its own embedded one, or the shared Supabase one, where they are retired
    when the module ends."""
    supabase = backend_of(app) == "supabase"
    db = request.getfixturevalue("supabase_stack")["database"] if supabase else AppDatabase.of(app)
    made: list[str] = []  # member ids, for the retirement below
    try:
        yield make_pair(db, made)
    finally:
        if supabase and made:
            retire(db, made)


def make_pair(db, made: list[str]) -> Pair:
    """`db`: AppDatabase or tests/supabase_like.py's server (both give api_conninfo and owner_conninfo)."""
    backend = LocalBackend(db.api_conninfo, max_size=2)
    try:
        consultant, consultant_id = make_consultant(backend, db)  # a fresh username: app_<8 hex digits>
        made.append(str(consultant_id))
        seeker = make_account(backend, PASSWORD)
        seeker_id = backend.rpc("auth_get_login", {"p_username": seeker}, as_user=SERVICE)["id"]
        made.append(str(seeker_id))
    finally:
        backend.close()
    with psycopg.connect(db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set timezone = %s, display_name = %s where id = %s",
            (NEW_YORK, CONSULTANT_NAME, consultant_id),
        )
        conn.execute(
            "update public.profiles set timezone = %s, display_name = %s where id = %s",
            (LONDON, SEEKER_NAME, seeker_id),
        )
        conn.execute(
            "update public.availability_settings set min_notice_hours = 24, late_cancel_hours = %s "
            "where consultant_id = %s",
            (LATE_HOURS, consultant_id),
        )
        for weekday in range(1, 8):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '10:00', '11:00')",
                (consultant_id, weekday),
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
    return Pair(consultant, seeker)


def retire(db, made: list[str]) -> None:
    """Leave the shared database as other tests expect it: the consultant out of the directory (as the other
    modules on it do), and nothing of theirs left queued for a sender another test runs."""
    with psycopg.connect(db.owner_conninfo, autocommit=True) as conn:
        retired = conn.execute(
            "update public.profiles set is_consultant = false where is_consultant and id = any (%s::uuid[])", (made,)
        ).rowcount
        dropped = conn.execute(
            "delete from private.outbox where recipient_id = any (%s::uuid[]) "
            "and status in ('queued', 'sending', 'held')",
            (made,),
        ).rowcount
        left = conn.execute(
            "select count(*) from public.profiles where is_consultant and id = any (%s::uuid[])", (made,)
        ).fetchone()[0]
    print(f"[scheduling] retired {retired} consultant(s); dropped {dropped} queued notice(s)")
    assert left == 0, f"{left} of the consultants made here are still in the shared directory"


# ---------------------------------------------------------------------------------------------------------------
# Time


def next_us_change(after: date) -> date:
    """The first day after `after` whose noon in New York has another UTC offset: a US clock change (a Sunday)."""

    def offset(day: date) -> timedelta:
        return datetime.combine(day, time(12), ZoneInfo(NEW_YORK)).utcoffset()

    day = after
    while offset(day + timedelta(days=1)) == offset(day):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def ten_in_new_york(day: date) -> datetime:
    return datetime.combine(day, time(10), ZoneInfo(NEW_YORK))


def in_london(day: date) -> str:
    """10:00 New York time on `day`, on London's clock."""
    return f"{ten_in_new_york(day).astimezone(ZoneInfo(LONDON)):%H:%M}"


def label(day: date, viewer: str, other: str) -> str:
    """components.slots.slot_label for 10:00 New York time on `day`: 'Wed 10 Mar, 15:00 London time · 10:00 New
    York time'."""
    words = {LONDON: "London time", NEW_YORK: "New York time"}
    mine, theirs = (ten_in_new_york(day).astimezone(ZoneInfo(zone)) for zone in (viewer, other))
    return f"{mine:%a %d %b}, {mine:%H:%M} {words[viewer]} · {theirs:%H:%M} {words[other]}"


def week_title(monday: date) -> str:
    return f"Week of {monday:%a} {monday.day} {monday:%b %Y}"


# ---------------------------------------------------------------------------------------------------------------
# The week view, as a person uses it


def go_to_week(page: Page, within: Locator, day: date) -> None:
    """Type a day into "Go to week of" (three spin buttons: year, month, day) and commit it."""
    click(page, within.get_by_role("spinbutton", name="year, Go to week of", exact=True))
    page.keyboard.type(day.strftime("%Y%m%d"))  # the calendar opens on that month, the day marked
    # The typed date counts once the calendar closes on it: click the day, as a person finishing the choice does.
    click(page, page.get_by_role("button", name=re.compile(rf"^{day:%A}, {day:%B} {day.day}, {day.year}")))
    expect(within.get_by_text(week_title(monday_of(day)), exact=True)).to_be_visible(timeout=STEP_TIMEOUT)


def expect_zone(within: Locator, monday: date, zone: str) -> None:
    """The week's title names the zone its times are on: 'Week of Mon 8 Mar 2027' and, below, 'London time'."""
    title = within.locator("p").filter(has=within.page.get_by_text(week_title(monday), exact=True))
    expect(title).to_contain_text(zone, timeout=STEP_TIMEOUT)


def day_column(within: Locator, day: date) -> Locator:
    heading = f"{day:%a} {day.day} {day:%b}"
    return within.get_by_test_id("stColumn").filter(has=within.page.get_by_text(heading, exact=True))


def expect_week(within: Locator, monday: date, clocks: list[str]) -> None:
    """Each day of the week shows exactly one open time, `clocks[i]` on day i."""
    for offset, shown in enumerate(clocks):
        times = day_column(within, monday + timedelta(days=offset)).get_by_role("button")
        expect(times).to_have_text([shown], timeout=STEP_TIMEOUT)


def pick(page: Page, within: Locator, day: date, shown: str) -> None:
    click(page, day_column(within, day).get_by_role("button", name=shown, exact=True))


def show_zone(page: Page, within: Locator, name: str) -> None:
    """ "Show times in" is a segmented control: a radio group."""
    choice = within.get_by_role("radiogroup", name="Show times in").get_by_role("radio", name=name, exact=True)
    click(page, choice)
    expect(choice).to_be_checked()


def upcoming_card(page: Page, *texts: str) -> Locator:
    return card(page, "appt_card_", *texts)


# ---------------------------------------------------------------------------------------------------------------
# The journey


def test_book_move_and_cancel_across_a_daylight_saving_change_in_two_zones(
    app: AppServer, browser: Browser, pair: Pair
) -> None:
    shots = Shots(SHOTS / backend_of(app), "scheduling")  # one folder per backend: neither run overwrites the other's
    change = next_us_change(
        datetime.now(UTC).date() + timedelta(days=8)
    )  # Sunday; its week's Monday is well beyond notice
    before = monday_of(change)  # Monday to Saturday on the old clock, the Sunday (the change) on the new one
    after = before + timedelta(days=7)
    booked_on, moved_to = before + timedelta(days=2), after + timedelta(days=1)  # a Wednesday, then a Tuesday
    clocks_before = [in_london(before + timedelta(days=i)) for i in range(7)]
    clocks_after = [in_london(after + timedelta(days=i)) for i in range(7)]
    # The check is only worth it if the gap really changes: five hours, then four (or the other way in autumn).
    assert clocks_before[0] != clocks_before[6] == clocks_after[0], (clocks_before, clocks_after)
    if change == date(2027, 3, 14):
        assert clocks_before == ["15:00"] * 6 + ["14:00"] and clocks_after == ["14:00"] * 7

    contexts = []

    def new_page() -> Page:
        context = new_context(browser)
        contexts.append(context)
        return context.new_page()

    seeker = new_page()
    try:
        # Book: the week of the change, reached by date; London's clock, then New York's.
        sign_in(seeker, app.url, pair.seeker, PASSWORD)
        open_page(seeker, "Appointments", "Appointments")
        expect(seeker.get_by_role("tab", name="Book")).to_have_attribute("aria-selected", "true")
        book = seeker.get_by_role("tabpanel", name="Book")
        go_to_week(seeker, book, before + timedelta(days=3))  # any day of the week will do
        expect_zone(book, before, "London time")  # the week names the zone it is shown in
        expect_week(book, before, clocks_before)
        shots(seeker, "week-of-the-change-london")
        show_zone(seeker, book, "The consultant's (New York time)")
        expect_zone(book, before, "New York time")
        expect_week(book, before, ["10:00"] * 7)  # on the consultant's clock the time never moves
        shots(seeker, "week-of-the-change-new-york")
        show_zone(seeker, book, "Yours (London time)")
        expect_week(book, before, clocks_before)

        pick(seeker, book, booked_on, clocks_before[2])
        first = label(booked_on, LONDON, NEW_YORK)
        confirmation = notice(seeker, first)
        # Before anything is booked: both zones and what counts as late, from when.
        rule = late_rule(LATE_HOURS, ten_in_new_york(booked_on), LONDON)
        expect(book.get_by_text(rule)).to_be_visible()
        print(f"[scheduling] picked {confirmation.inner_text()!r}; {rule}")
        shots(seeker, "picked")
        click(seeker, book.get_by_role("button", name="Propose this time"))
        notice(seeker, "Proposed. The other party will confirm or decline.")

        # The list: the same time in both zones; the panel states the rule before any click on Cancel or Move.
        click(seeker, seeker.get_by_role("tab", name="Upcoming"))
        booked = upcoming_card(seeker, first, "Proposed")
        expect(booked).to_have_count(1, timeout=STEP_TIMEOUT)
        click(seeker, booked.get_by_text("Cancel or move this session"))
        expect(booked.get_by_text(rule, exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
        shots(seeker, "booked-with-the-rule")

        # Move: the week after the change, again by date; 10:00 in New York is now 14:00 in London.
        booked.get_by_label("Reason (required, shared with the other party)").fill("A training day moved.")
        commit_typing(seeker)
        click(seeker, booked.get_by_role("switch", name="Move to another time").locator("xpath=ancestor::label[1]"))
        go_to_week(seeker, booked, after + timedelta(days=4))
        expect_week(booked, after, clocks_after)
        pick(seeker, booked, moved_to, clocks_after[1])
        second = label(moved_to, LONDON, NEW_YORK)
        expect(booked.get_by_text(second)).to_be_visible(timeout=STEP_TIMEOUT)
        shots(seeker, "move-picked")
        click(seeker, booked.get_by_role("button", name="Move session"))
        notice(seeker, "Moved. The other party will confirm the new time.")
        click(seeker, seeker.get_by_role("tab", name="Upcoming"))
        moved = upcoming_card(seeker, second, "Proposed")
        expect(moved).to_have_count(1, timeout=STEP_TIMEOUT)
        expect(moved).to_contain_text("Moved from an earlier time.")
        expect(upcoming_card(seeker, first)).to_have_count(0)
        click(seeker, seeker.get_by_role("tab", name="Past"))
        notice(seeker, re.compile(rf"{re.escape(first)} · {CONSULTANT_NAME} · Moved by you with \d+ h notice"))
        shots(seeker, "moved")

        # The consultant sees the same sessions on New York's clock, London's alongside.
        consultant = new_page()
        sign_in(consultant, app.url, pair.consultant, PASSWORD)
        open_page(consultant, "Appointments", "Appointments")
        click(consultant, consultant.get_by_role("tab", name="Upcoming"))
        theirs = upcoming_card(consultant, label(moved_to, NEW_YORK, LONDON), SEEKER_NAME, "Proposed")
        expect(theirs).to_have_count(1, timeout=STEP_TIMEOUT)
        shots(consultant, "consultant-sees-the-move")

        # Cancel: the rule for the new time is stated first; in good time, the cancellation is not late.
        click(seeker, seeker.get_by_role("tab", name="Upcoming"))
        click(seeker, moved.get_by_text("Cancel or move this session"))
        new_rule = late_rule(LATE_HOURS, ten_in_new_york(moved_to), LONDON)
        expect(moved.get_by_text(new_rule, exact=True)).to_be_visible(timeout=STEP_TIMEOUT)
        moved.get_by_label("Reason (required, shared with the other party)").fill("Cover found elsewhere.")
        click(seeker, moved.get_by_role("button", name="Cancel session"))
        notice(seeker, re.compile(rf"Cancelled with \d+ hours' notice\. {CONSULTANT_NAME} was notified\."))
        click(seeker, seeker.get_by_role("tab", name="Upcoming"))
        expect(seeker.get_by_text("No upcoming sessions.")).to_be_visible(timeout=STEP_TIMEOUT)
        click(seeker, seeker.get_by_role("tab", name="Past"))
        cancelled = notice(
            seeker,
            re.compile(
                rf"{re.escape(second)} · {CONSULTANT_NAME} · Cancelled by you with "
                r"\d+ h notice"
            ),
        )
        expect(cancelled).not_to_contain_text("late")
        shots(seeker, "cancelled")
    except Exception:
        for n, context in enumerate(contexts):
            for page in context.pages:
                shots(page, f"failed-{n}", idle=False)
        print(f"app log:\n{app.log_tail()}")
        raise
    finally:
        for context in contexts:
            context.close()
