"""Booking from a week view (#15): days across, times down, the viewer's zone named with a switch to the
consultant's, one click to pick, a confirmation naming both zones and the late rule before anything is
booked; the cancel/move dialog states the rule before any click. Across a daylight-saving change the
same instants land on the hour each zone's clock shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from portal.appointments import book, late_rule
from portal.db import Claims
from portal.week_grid import monday_of, week_of, week_to_show, weeks_with_slots
from tests.test_app import PAGES, app, engaged_pair, no_exceptions, texts
from tests.test_notifications_and_booking_pages import member_id, offered_times, pick_time

NEW_YORK, LONDON = "America/New_York", "Europe/London"


def slots_at(local_day: date, hour: int, zone: str, days: int) -> list[dict]:
    """One open time a day at `hour` on `zone`'s clock, as open_slots returns them (ISO instants in UTC)."""
    return [{"starts_at": datetime.combine(local_day + timedelta(days=i), datetime.min.time(), ZoneInfo(zone))
             .replace(hour=hour).astimezone(UTC).isoformat()} for i in range(days)]


def test_a_week_across_the_us_change_to_summer_time_reads_right_in_both_zones():
    # 2027: New York moves its clocks on Sunday 14 March, London on Sunday 28 March.
    monday = date(2027, 3, 8)
    slots = slots_at(monday, 9, NEW_YORK, 7)
    in_new_york = week_of(slots, NEW_YORK, monday)
    assert [d.heading for d in in_new_york] == ["Mon 8 Mar", "Tue 9 Mar", "Wed 10 Mar", "Thu 11 Mar", "Fri 12 Mar",
                                                "Sat 13 Mar", "Sun 14 Mar"]
    assert [d.times[0][1] for d in in_new_york] == ["09:00"] * 7  # the consultant's 09:00 stays 09:00
    in_london = week_of(slots, LONDON, monday)
    assert [d.times[0][1] for d in in_london] == ["14:00"] * 6 + ["13:00"]  # five hours apart, then four


def test_a_time_near_midnight_falls_on_the_viewers_own_day():
    monday = date(2027, 1, 11)
    slots = slots_at(monday, 21, NEW_YORK, 1)  # Monday 21:00 in New York is Tuesday 02:00 in London
    assert [(d.heading, [t for _, t in d.times]) for d in week_of(slots, LONDON, monday) if d.times] == \
        [("Tue 12 Jan", ["02:00"])]


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
        "Cancelling or moving it less than 24 hours before it starts (after Mon 11 Jan 2027, 16:00 New York time) "
        "counts as a late cancellation on the record.")
    assert "never counted as late" in late_rule(0)


def _pair_in_two_zones(backend, embedded_db) -> tuple[str, str, Claims, Claims]:
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = %s where id = %s", (NEW_YORK, consultant.sub))
        conn.execute("update public.profiles set timezone = %s where id = %s", (LONDON, client.sub))
        conn.execute("update public.availability_settings set late_cancel_hours = 36 where consultant_id = %s",
                     (consultant.sub,))
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
    assert "less than 36 hours before it starts" in confirmation

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
    assert [datetime.fromisoformat(a["starts_at"]) for a in backend.rpc("my_appointments", {}, as_user=client)] == \
        [local]


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
    slot = next(s["starts_at"] for s in backend.rpc("open_slots", {"p_consultant": consultant.sub,
                                                                   "p_from": today.isoformat(),
                                                                   "p_to": (today + timedelta(days=14)).isoformat(),
                                                                   "p_client": client.sub}, as_user=client))
    book(backend, client, consultant.sub, slot)
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    no_exceptions(at)
    expected = late_rule(36, slot, LONDON)
    assert expected in texts(at, "caption"), texts(at, "caption")
