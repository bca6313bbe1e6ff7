"""Appointments as its members read it (issue 26, items 4 and 11): the Week tab is the booking week view with the
member's own sessions, days across and times down on their clock, their zone named, opening on this week; what
each party said happened at a session reads as sentences; before anyone works together, the Book tab speaks to
its reader (seeker or consultant) and leads a seeker to the consultant's profile."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from portal.appointments import WEEK, answer
from portal.db import Claims
from portal.local_times import in_zone
from portal.week_grid import monday_of
from tests.care_parties import book, engage, past_session, register, retire, username_of
from tests.page_support import app, no_exceptions, texts

TOKYO = "Asia/Tokyo"  # the client's zone: neither the server's nor the consultant's
PAGE = "views/appointments.py"
CONSULTANTS: list[Claims] = []


@pytest.fixture(scope="module", autouse=True)
def consultants_leave_the_directory(embedded_db):
    yield
    retire(embedded_db.owner_conninfo, CONSULTANTS)


def consultant_and_client(conninfo: str, *, engaged: bool = True) -> tuple[Claims, Claims]:
    consultant = register(conninfo, "Dr. Rosa Marsh", consultant=True)
    CONSULTANTS.append(consultant)
    client = register(conninfo, "Ana Diaz")
    with psycopg.connect(conninfo) as conn:
        conn.execute("update public.profiles set timezone = %s where id = %s", (TOKYO, client.sub))
    if engaged:
        engage(conninfo, consultant, client)
    return consultant, client


def appointments(conninfo: str, member: Claims):
    at = app(username_of(conninfo, member)).run()
    at.switch_page(PAGE).run()
    no_exceptions(at)
    return at


def week_tab(at):
    return next(t for t in at.tabs if t.label == WEEK)


def week_title(at) -> str:
    return next(m.value for m in week_tab(at).markdown if m.value.startswith("**Week of "))


def title_of(monday: date) -> str:
    return f"**Week of {monday:%a} {monday.day} {monday:%b %Y}**  \nTokyo time"


def press(at, name: str) -> None:
    at.button(key=f"appointments_week_{name}").click().run()
    no_exceptions(at)


def test_the_week_opens_on_this_week_names_the_zone_and_moves_a_week_at_a_time(embedded_db):
    _, client = consultant_and_client(embedded_db.owner_conninfo)
    at = appointments(embedded_db.owner_conninfo, client)
    this_week = monday_of(datetime.now(ZoneInfo(TOKYO)).date())
    assert week_title(at) == title_of(this_week)
    assert at.button(key="appointments_week_this").disabled  # already there
    headings = [c.markdown[0].value for c in week_tab(at).columns[-7:]]
    assert headings == [f"**{d:%a} {d.day} {d:%b}**" for d in (this_week + timedelta(days=i) for i in range(7))]

    press(at, "next")
    assert week_title(at) == title_of(this_week + timedelta(weeks=1))
    assert not at.button(key="appointments_week_this").disabled
    press(at, "previous")
    press(at, "previous")
    assert week_title(at) == title_of(this_week - timedelta(weeks=1))
    press(at, "this")
    assert week_title(at) == title_of(this_week)


def test_a_session_shows_in_its_days_cell_with_the_time_the_other_party_and_its_status(backend, embedded_db):
    consultant, client = consultant_and_client(embedded_db.owner_conninfo)
    session = book(backend, client, consultant, client, days=3)
    answer(backend, consultant, session["id"], confirm=True)
    starts = in_zone(session["starts_at"], TOKYO)
    at = appointments(embedded_db.owner_conninfo, client)
    for _ in range((monday_of(starts.date()) - monday_of(datetime.now(ZoneInfo(TOKYO)).date())).days // 7):
        press(at, "next")
    assert week_title(at) == title_of(monday_of(starts.date()))

    days = week_tab(at).columns[-7:]
    shown = f"**{starts:%H:%M}**  \nDr\\. Rosa Marsh  \n:green[Confirmed]"
    assert [shown in texts(day, "markdown") for day in days] == [i == starts.weekday() for i in range(7)]


def statements(at) -> list[str]:
    return [c for c in texts(at, "caption") if " said " in c or " not said " in c]


def record(at, appointment: str, outcome: str) -> None:
    key = f"appt_attendance_{appointment}"
    at.selectbox(key=f"{key}_outcome").set_value(outcome)
    at.button(key=f"{key}_save").click().run()
    no_exceptions(at)


def test_what_each_party_said_happened_reads_as_sentences_to_each(embedded_db):
    conninfo = embedded_db.owner_conninfo
    consultant, client = consultant_and_client(conninfo)
    appointment = past_session(conninfo, consultant, client)
    client_page = appointments(conninfo, client)
    assert statements(client_page) == ["Neither of you has said what happened yet"]

    consultant_page = appointments(conninfo, consultant)
    record(consultant_page, appointment, "client_absent")
    assert statements(consultant_page) == ["You said Ana Diaz did not come · Ana Diaz has not said yet"]

    client_page.run()
    assert statements(client_page) == ["You have not said what happened yet · Dr\\. Rosa Marsh said you did not come"]
    record(client_page, appointment, "held")
    assert statements(client_page)[0].startswith("You said it was held · Dr\\. Rosa Marsh said you did not come")


def test_a_seeker_with_a_pending_request_is_told_what_they_can_do_and_led_to_the_profile(embedded_db):
    conninfo = embedded_db.owner_conninfo
    consultant, seeker = consultant_and_client(conninfo, engaged=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hello', 'pending')",
            (seeker.sub, consultant.sub),
        )
    at = appointments(conninfo, seeker)
    assert (
        "Your request to Dr\\. Rosa Marsh is pending. Meanwhile you can propose a first session from "
        "Dr\\. Rosa Marsh's profile." in texts(at, "info")
    )
    links = [link.proto for link in at.main.get("page_link")]
    assert [(link.label, link.query_string) for link in links if link.page.endswith("consultant")] == [
        ("Dr\\. Rosa Marsh's profile", f"id={consultant.sub}")
    ]
    assert not any("the seeker" in i for i in texts(at, "info"))

    consultant_page = appointments(conninfo, consultant)
    assert (
        "Ana Diaz asked to work with you and awaits your answer on Requests. Meanwhile Ana Diaz can propose a "
        "first session from your profile, which you confirm or decline under Upcoming."
        in texts(consultant_page, "info")
    )
    assert not any("the seeker" in i for i in texts(consultant_page, "info"))
