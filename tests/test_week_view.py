"""Booking from a week view (#15): days across, times down, the viewer's zone named with a switch to the
consultant's, one click to pick, a confirmation naming both zones and the late rule before anything is
booked; the cancel/move dialog states the rule before any click. Across a daylight-saving change the
same instants land on the hour each zone's clock shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from components.slots import slot_label
from portal.appointments import KEPT_TERMS, book, hours_and_minutes, late_rule
from portal.db import Claims
from portal.week_grid import HORIZON, fetch_window, monday_of, week_of, week_to_show, weeks_with_slots
from tests.page_support import PAGES, app, no_exceptions, offered_times, pick_time, texts
from tests.people_support import engaged_pair, member_id

NEW_YORK, LONDON = "America/New_York", "Europe/London"


def slots_at(local_day: date, hour: int, zone: str, days: int) -> list[dict]:
    """One open time a day at `hour` on `zone`'s clock, as open_slots returns them (ISO instants in UTC)."""
    return [
        {
            "starts_at": datetime.combine(local_day + timedelta(days=i), datetime.min.time(), ZoneInfo(zone))
            .replace(hour=hour)
            .astimezone(UTC)
            .isoformat()
        }
        for i in range(days)
    ]


def test_a_week_across_the_us_change_to_summer_time_reads_right_in_both_zones():
    # 2027: New York moves its clocks on Sunday 14 March, London on Sunday 28 March.
    monday = date(2027, 3, 8)
    slots = slots_at(monday, 9, NEW_YORK, 7)
    in_new_york = week_of(slots, NEW_YORK, monday)
    assert [d.heading for d in in_new_york] == [
        "Mon 8 Mar",
        "Tue 9 Mar",
        "Wed 10 Mar",
        "Thu 11 Mar",
        "Fri 12 Mar",
        "Sat 13 Mar",
        "Sun 14 Mar",
    ]
    assert [d.times[0][1] for d in in_new_york] == ["09:00"] * 7  # the consultant's 09:00 stays 09:00
    in_london = week_of(slots, LONDON, monday)
    assert [d.times[0][1] for d in in_london] == ["14:00"] * 6 + ["13:00"]  # five hours apart, then four


def test_a_time_near_midnight_falls_on_the_viewers_own_day():
    monday = date(2027, 1, 11)
    slots = slots_at(monday, 21, NEW_YORK, 1)  # Monday 21:00 in New York is Tuesday 02:00 in London
    assert [(d.heading, [t for _, t in d.times]) for d in week_of(slots, LONDON, monday) if d.times] == [
        ("Tue 12 Jan", ["02:00"])
    ]


def test_the_week_opened_is_the_one_asked_for_else_the_picked_times_else_the_first():
    first, later = date(2027, 1, 11), date(2027, 1, 25)
    slots = slots_at(first, 10, NEW_YORK, 2) + slots_at(later, 10, NEW_YORK, 2)
    assert weeks_with_slots(slots, NEW_YORK) == [first, later]
    assert week_to_show(slots, NEW_YORK, None, None) == first
    assert week_to_show(slots, NEW_YORK, later, None) == later
    assert week_to_show(slots, NEW_YORK, date(2027, 1, 18), None) == later  # an empty week moves on
    assert week_to_show(slots, NEW_YORK, None, slots[-1]["starts_at"]) == later
    assert week_to_show([], NEW_YORK, None, None) is None
    assert monday_of(date(2027, 1, 17)) == date(2027, 1, 11)


def test_the_late_rule_says_what_counts_and_from_when():
    assert late_rule(24, "2027-01-12T21:00:00+00:00", NEW_YORK) == (
        "Cancelling or moving it less than 24 hours before it starts (from Mon 11 Jan 2027 at 16:00 New York time) "
        "counts as a late cancellation on the record."
    )
    # A cut-off tomorrow reads "from tomorrow at 16:00", never "after Tomorrow, 16:00" (the day after tomorrow?)
    assert "(from tomorrow at 16:00 New York time)" in late_rule(
        24, "2027-01-12T21:00:00+00:00", NEW_YORK, now=datetime(2027, 1, 10, 21, 0, tzinfo=UTC)
    )
    assert "never counted as late" in late_rule(0)
    # The window has already begun (#26.3): said plainly, with the time left in hours and minutes.
    starts = datetime(2027, 1, 12, 21, 0, tzinfo=UTC)
    assert late_rule(72, starts, NEW_YORK, now=starts - timedelta(hours=44, minutes=48)) == (
        "It starts in 44 hours 48 minutes, inside the 72 hours the late rule gives: cancelling or moving this "
        "session at any time from now on counts as a late cancellation on the record."
    )
    assert hours_and_minutes(timedelta(hours=1)) == "1 hour"
    assert hours_and_minutes(timedelta(minutes=5)) == "5 minutes"


MADE_CONSULTANTS: list[str] = []  # leave the directory when the module ends: the database is shared


@pytest.fixture(scope="module", autouse=True)
def consultants_leave_the_directory(embedded_db):
    yield
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute(
            "update public.profiles set is_consultant = false where id = any (%s::uuid[])", (MADE_CONSULTANTS,)
        )
    MADE_CONSULTANTS.clear()


def _pair_in_two_zones(backend, embedded_db) -> tuple[str, str, Claims, Claims]:
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    MADE_CONSULTANTS.append(str(consultant.sub))
    client = Claims.user(member_id(backend, client_username))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = %s where id = %s", (NEW_YORK, consultant.sub))
        conn.execute("update public.profiles set timezone = %s where id = %s", (LONDON, client.sub))
        conn.execute(
            "update public.availability_settings set late_cancel_hours = 36 where consultant_id = %s", (consultant.sub,)
        )
    return consultant_username, client_username, consultant, client


def test_one_click_picks_and_the_confirmation_names_both_zones_and_the_rule(backend, embedded_db):
    _, client_username, _, client = _pair_in_two_zones(backend, embedded_db)
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    no_exceptions(at)
    assert not [b for b in at.button if b.key == "book_submit"]  # nothing is booked before a time is picked
    labels_in_london = [b.label for b in at.button if b.key and "_pick_" in b.key]
    chosen = pick_time(at)
    no_exceptions(at)
    confirmation = next(i for i in texts(at, "info") if "London time" in i)
    local = datetime.fromisoformat(chosen)
    assert f"{local.astimezone(ZoneInfo(LONDON)):%H:%M} London time" in confirmation
    assert f"{local.astimezone(ZoneInfo(NEW_YORK)):%H:%M} New York time" in confirmation
    # The rule in words, whether the picked time is beyond the 36-hour window or already inside it (#26.3).
    if local - datetime.now(UTC) > timedelta(hours=36):
        assert "less than 36 hours before it starts" in confirmation
    else:
        assert "inside the 36 hours the late rule gives: cancelling or moving this session at any time" in confirmation

    # The zone switch redraws the week on the consultant's clock, keeping the pick.
    switch = next(s for s in at.button_group if s.key and s.key.endswith("_zone"))
    switch.set_value(NEW_YORK).run()
    no_exceptions(at)
    labels_in_new_york = [b.label for b in at.button if b.key and "_pick_" in b.key]
    assert labels_in_new_york != labels_in_london
    assert f"{local.astimezone(ZoneInfo(NEW_YORK)):%H:%M}" in labels_in_new_york
    assert any("London time" in i for i in texts(at, "info"))

    at.button(key="book_submit").click().run()
    no_exceptions(at)
    assert [datetime.fromisoformat(a["starts_at"]) for a in backend.rpc("my_appointments", {}, as_user=client)] == [
        local
    ]


def test_next_and_previous_week_move_through_the_open_times(backend, embedded_db):
    _, client_username, _, _ = _pair_in_two_zones(backend, embedded_db)
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    first_week = offered_times(at)
    previous = next(b for b in at.button if b.key and b.key.endswith("_previous"))
    assert previous.disabled
    next(b for b in at.button if b.key and b.key.endswith("_next")).click().run()
    no_exceptions(at)
    second_week = offered_times(at)
    assert second_week and not set(second_week) & set(first_week)
    assert min(second_week) > max(first_week)
    next(b for b in at.button if b.key and b.key.endswith("_previous")).click().run()
    assert offered_times(at) == first_week


def test_the_cancel_dialog_states_the_late_rule_before_any_click(backend, embedded_db):
    _, client_username, consultant, client = _pair_in_two_zones(backend, embedded_db)
    today = datetime.now(UTC).date()
    slot = next(
        s["starts_at"]
        for s in backend.rpc(
            "open_slots",
            {
                "p_consultant": consultant.sub,
                "p_from": today.isoformat(),
                "p_to": (today + timedelta(days=14)).isoformat(),
                "p_client": client.sub,
            },
            as_user=client,
        )
    )
    book(backend, client, consultant.sub, slot)
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    no_exceptions(at)
    expected = late_rule(36, slot, LONDON)
    assert expected in texts(at, "caption"), texts(at, "caption")


def test_the_cancel_dialog_states_the_sessions_own_threshold_after_a_policy_change(backend, embedded_db):
    """Issue 22, item 3: booked under 36 hours, the session keeps that rule when the consultant changes theirs;
    the new policy is what a new booking is offered under."""
    consultant_username, client_username, consultant, client = _pair_in_two_zones(backend, embedded_db)
    today = datetime.now(UTC).date()
    slot = backend.rpc(
        "open_slots",
        {
            "p_consultant": consultant.sub,
            "p_from": today.isoformat(),
            "p_to": (today + timedelta(days=14)).isoformat(),
            "p_client": client.sub,
        },
        as_user=client,
    )[0]["starts_at"]
    book(backend, client, consultant.sub, slot)
    for changed_to in (0, 168):
        with psycopg.connect(embedded_db.owner_conninfo) as conn:
            conn.execute(
                "update public.availability_settings set late_cancel_hours = %s where consultant_id = %s",
                (changed_to, consultant.sub),
            )
        for username, zone in ((client_username, LONDON), (consultant_username, NEW_YORK)):
            at = app(username).run()
            at.switch_page(PAGES["appointments"]).run()
            no_exceptions(at)
            captions = texts(at, "caption")
            assert late_rule(36, slot, zone) in captions and KEPT_TERMS in captions, captions
            assert late_rule(changed_to, slot, zone) not in captions


# --- "Go to week of": any week within the horizon, its own open times read for it ----------------------------


def next_change(zone: str, after: date) -> date:
    """The first day after `after` whose noon has another UTC offset than the day before's: a clock change."""

    def offset(day: date) -> timedelta:
        return datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).replace(hour=12).utcoffset()

    day = after
    while offset(day + timedelta(days=1)) == offset(day):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def clock(day: date, hour: int, zone: str, shown_in: str) -> str:
    """`hour`:00 on `zone`'s clock on `day`, as the week view labels it on `shown_in`'s clock."""
    instant = datetime.fromisoformat(slots_at(day, hour, zone, 1)[0]["starts_at"])
    return f"{instant.astimezone(ZoneInfo(shown_in)):%H:%M}"


def test_the_days_read_surround_the_week_shown_within_the_cap_on_one_request():
    today = date(2026, 11, 29)
    assert fetch_window(today, None) == (date(2026, 11, 28), date(2027, 1, 24))  # the next eight weeks
    first, last = fetch_window(today, date(2027, 3, 8))
    assert (first, last) == (date(2027, 2, 1), date(2027, 5, 3))  # five weeks before, eight after
    assert (last - first).days <= 92  # open_slots reads at most 93 days per request
    assert fetch_window(today, date(2026, 12, 7))[0] == date(2026, 11, 28)  # never before yesterday
    assert fetch_window(today, monday_of(today + HORIZON))[1] == today + HORIZON  # nor past the horizon


def _only_ten_oclock(embedded_db, consultant: Claims) -> None:
    """The consultant's one open time a day: 10:00 New York time (a 50-minute session fits 10:00-11:00)."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("delete from public.weekly_hours where consultant_id = %s", (consultant.sub,))
        for weekday in range(1, 8):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '10:00', '11:00')",
                (consultant.sub, weekday),
            )


def week_labels(at) -> list[str]:
    return [b.label for b in at.button if b.key and "_pick_" in b.key]


def week_title(at) -> str:
    return next(m for m in texts(at, "markdown") if m.startswith("**Week of "))


def test_go_to_week_of_reaches_both_sides_of_a_daylight_saving_change(backend, embedded_db):
    """10:00 in New York is 15:00 in London, except between the US change (2027: 14 March) and Europe's
    (28 March), when it is 14:00: the weeks reached by date, months ahead, show each day's own clock."""
    _, client_username, consultant, _ = _pair_in_two_zones(backend, embedded_db)
    _only_ten_oclock(embedded_db, consultant)
    us_change = next_change(NEW_YORK, datetime.now(UTC).date() + timedelta(days=8))
    before = monday_of(us_change)  # its Monday to Saturday keep the old clock; the change is on the Sunday
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    go = next(d for d in at.date_input if d.key.endswith("_go"))
    assert go.label == "Go to week of" and go.key == f"book_slot_{consultant.sub}_go"

    go.set_value(before + timedelta(days=2)).run()  # any day of the week will do
    no_exceptions(at)
    assert week_title(at).startswith(f"**Week of {before:%a} {before.day} {before:%b %Y}**")
    expected = [clock(before + timedelta(days=i), 10, NEW_YORK, LONDON) for i in range(7)]
    assert week_labels(at) == expected
    assert at.date_input(key=f"book_slot_{consultant.sub}_go").value == before  # the field shows the week's Monday
    assert len(set(expected)) == 2, "the week holds the US change: one clock before it, another after"

    after = before + timedelta(days=7)
    at.button(key=f"book_slot_{consultant.sub}_next").click().run()
    no_exceptions(at)
    assert week_title(at).startswith(f"**Week of {after:%a} {after.day} {after:%b %Y}**")
    assert week_labels(at) == [clock(after + timedelta(days=i), 10, NEW_YORK, LONDON) for i in range(7)]
    # Five hours apart before the change, four after it (until Europe changes too).
    gap_before = int(expected[0][:2]) - 10
    gap_after = int(week_labels(at)[0][:2]) - 10
    assert gap_before - gap_after == 1, (expected, week_labels(at))
    if us_change == date(2027, 3, 14):
        assert expected == ["15:00"] * 6 + ["14:00"] and week_labels(at) == ["14:00"] * 7

    # On the consultant's clock the time never moves.
    switch = next(s for s in at.button_group if s.key and s.key.endswith("_zone"))
    switch.set_value(NEW_YORK).run()
    assert week_labels(at) == ["10:00"] * 7
    at.button(key=f"book_slot_{consultant.sub}_previous").click().run()
    assert week_labels(at) == ["10:00"] * 7
    assert week_title(at).startswith(f"**Week of {before:%a} {before.day} {before:%b %Y}**")


def test_a_time_picked_in_one_week_survives_a_jump_and_is_booked_and_listed(backend, embedded_db):
    _, client_username, consultant, client = _pair_in_two_zones(backend, embedded_db)
    _only_ten_oclock(embedded_db, consultant)
    far = monday_of(datetime.now(UTC).date() + timedelta(weeks=30))  # beyond the four months the page used to list
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    at.date_input(key=f"book_slot_{consultant.sub}_go").set_value(far).run()
    chosen = pick_time(at, index=2)  # Wednesday
    assert in_new_york(chosen) == (far + timedelta(days=2), "10:00")
    # Looking at another week keeps the pick: it is neither lost nor reported as taken.
    at.date_input(key=f"book_slot_{consultant.sub}_go").set_value(datetime.now(UTC).date() + timedelta(days=14)).run()
    no_exceptions(at)
    assert not at.warning
    assert chosen not in offered_times(at)
    assert any(slot_label(chosen, LONDON, NEW_YORK) in i for i in texts(at, "info"))
    at.button(key="book_submit").click().run()
    no_exceptions(at)
    assert [a["starts_at"] for a in backend.rpc("my_appointments", {}, as_user=client)] == [chosen]
    at.run()
    assert any(slot_label(chosen, LONDON, NEW_YORK) in m for m in texts(at, "markdown"))  # listed under Upcoming


def test_a_week_with_no_open_times_says_so_and_shows_the_nearest_that_has_some(backend, embedded_db):
    _, client_username, consultant, _ = _pair_in_two_zones(backend, embedded_db)
    _only_ten_oclock(embedded_db, consultant)
    away = monday_of(datetime.now(UTC).date() + timedelta(weeks=12))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "insert into public.time_off (consultant_id, starts_on, ends_on) values (%s, %s, %s)",
            (consultant.sub, away - timedelta(days=1), away + timedelta(days=7)),
        )
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    at.date_input(key=f"book_slot_{consultant.sub}_go").set_value(away).run()
    no_exceptions(at)
    assert (
        f"No open times in the week of {away:%a} {away.day} {away:%b %Y}: this is the nearest week that has "
        "some." in texts(at, "caption")
    )
    shown = away + timedelta(days=7)
    assert week_title(at).startswith(f"**Week of {shown:%a} {shown.day} {shown:%b %Y}**")


def in_new_york(starts_at: str) -> tuple[date, str]:
    local = datetime.fromisoformat(starts_at).astimezone(ZoneInfo(NEW_YORK))
    return local.date(), f"{local:%H:%M}"
