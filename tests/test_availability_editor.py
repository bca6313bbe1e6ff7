"""My availability as Cal.com and Calendly draw it (issue 15): each weekday a switch with its time ranges, copy a
day to others, date overrides and time off picked on calendars, and the week colleagues would see.

First headless (portal/weekly_ranges.py, no Streamlit): ranges with stable ids, the refusals shown next to a range,
copying, overrides and time off, what is saved, and the preview's week in the consultant's zone and another one
(a range crossing that zone's midnight split in two; a daylight-saving week). Then the page through AppTest on the
real embedded database: a day switched on, two ranges, copied to other days, an invalid range refused next to it at
once with nothing lost, an override and time off added, saved and read back through get_my_availability; the
database's own refusals shown next to their section; the 'changed elsewhere' path.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from types import SimpleNamespace

import psycopg
import pytest

from portal.availability import AvailabilityInput
from portal.db import Claims
from portal.weekly_ranges import OVERRIDE, WEEKLY, AvailabilityEditor, Bar, today_in

# --- headless: the editor -------------------------------------------------------------------------------------------

SETTINGS = {
    "session_minutes": 50,
    "buffer_minutes": 10,
    "min_notice_hours": 24,
    "max_sessions_per_week": None,
    "late_cancel_hours": 24,
    "version": 7,
}


def editor(weekly=(), overrides=(), time_off=(), zone="America/New_York") -> AvailabilityEditor:
    return AvailabilityEditor.from_saved(
        {
            "timezone": zone,
            "settings": dict(SETTINGS),
            "weekly_hours": [{"weekday": d, "starts_at": f"{s}:00", "ends_at": f"{e}:00"} for d, s, e in weekly],
            "overrides": [
                {"on_date": d, "starts_at": s and f"{s}:00", "ends_at": e and f"{e}:00"} for d, s, e in overrides
            ],
            "time_off": [{"starts_on": a, "ends_on": b, "note": n} for a, b, n in time_off],
        }
    )


def ranges(ed: AvailabilityEditor, weekday: int) -> list[tuple[time | None, time | None]]:
    return [(r.starts_at, r.ends_at) for r in ed.days[weekday].ranges]


def test_saved_availability_becomes_switched_on_days_with_their_ranges_and_saves_back_the_same():
    ed = editor(
        weekly=[(3, "13:00", "17:00"), (1, "09:00", "12:00"), (1, "14:00", "18:00")],
        overrides=[("2031-02-04", None, None), ("2031-02-03", "10:00", "12:00")],
        time_off=[("2031-03-01", "2031-03-03", "Conference")],
    )
    assert [d.on for d in ed.days.values()] == [True, False, True, False, False, False, False]
    assert ranges(ed, 1) == [(time(9), time(12)), (time(14), time(18))]
    assert [o.describe() for o in ed.overrides] == ["Mon 3 Feb 2031: 10:00–12:00", "Tue 4 Feb 2031: day off"]
    assert [t.describe() for t in ed.time_off] == ["Sat 1 Mar 2031 to Mon 3 Mar 2031"]
    entered = ed.as_input()
    assert entered == AvailabilityInput(
        timezone="America/New_York",
        session_minutes=50,
        buffer_minutes=10,
        min_notice_hours=24,
        max_sessions_per_week=None,
        late_cancel_hours=24,
        weekly_hours=[(1, time(9), time(12)), (1, time(14), time(18)), (3, time(13), time(17))],
        overrides=[(date(2031, 2, 3), time(10), time(12)), (date(2031, 2, 4), None, None)],
        time_off=[(date(2031, 3, 1), date(2031, 3, 3), "Conference")],
    )
    assert entered.validate() == {}
    assert ed.version == 7


def test_a_day_switched_on_starts_with_office_hours_and_off_keeps_its_ranges_unsaved():
    ed = editor()
    ed.set_on(2, True)
    assert ranges(ed, 2) == [(time(9), time(17))]
    ed.set_on(2, False)
    assert ranges(ed, 2) == [(time(9), time(17))]  # kept for when it is switched on again
    assert ed.weekly_rows() == []  # but not saved
    ed.set_on(2, True)
    assert ed.weekly_rows() == [(2, time(9), time(17))]


def test_ranges_are_added_after_the_last_and_removing_one_never_shifts_another():
    ed = editor(weekly=[(1, "09:00", "12:00")])
    second = ed.add_range(1)
    assert (second.starts_at, second.ends_at) == (time(13), time(14))  # an hour after the last one ends
    third = ed.add_range(1)
    assert (third.starts_at, third.ends_at) == (time(15), time(16))
    first_id = ed.days[1].ranges[0].id
    ids = [r.id for r in ed.days[1].ranges]
    assert len(set(ids)) == 3
    ed.remove_range(second.id)
    assert [r.id for r in ed.days[1].ranges] == [first_id, third.id]  # the others keep their ids and values
    assert ranges(ed, 1) == [(time(9), time(12)), (time(15), time(16))]
    ed.set_range(third.id, time(22), time(23, 45))
    late = ed.add_range(1)  # nothing fits after 23:45: the times are left for the consultant to give
    assert (late.starts_at, late.ends_at) == (None, None)
    assert ed.add_range(4).starts_at == time(9)  # an empty day: office hours


def test_each_invalid_range_is_named_next_to_it():
    ed = editor(weekly=[(1, "09:00", "12:00"), (1, "11:00", "13:00"), (1, "15:00", "14:00"), (2, "09:00", "10:00")])
    late, reversed_ = ed.days[1].ranges[1], ed.days[1].ranges[2]
    missing_end = ed.add_range(2)
    ed.set_range(missing_end.id, time(11), None)
    missing_start = ed.add_range(2)
    ed.set_range(missing_start.id, None, time(15))
    blank = ed.add_range(2)
    ed.set_range(blank.id, None, None)
    assert ed.range_problems() == {
        late.id: "Overlaps 09:00–12:00 on Monday: change one or remove it.",
        reversed_.id: "It ends (14:00) before it starts (15:00): give a later end.",
        missing_end.id: "Give the end time.",
        missing_start.id: "Give the start time.",
        blank.id: "Give the start and end times, or remove this range.",
    }
    ed.set_on(2, False)  # a day switched off is not saved, so not checked
    assert set(ed.range_problems()) == {late.id, reversed_.id}
    adjacent = editor(weekly=[(5, "09:00", "12:00"), (5, "12:00", "15:00")])
    assert adjacent.range_problems() == {}  # touching is not overlapping (the database agrees)
    twice = editor(weekly=[(6, "09:00", "12:00"), (6, "09:00", "12:00")])
    assert list(twice.range_problems().values()) == ["Overlaps 09:00–12:00 on Saturday: change one or remove it."]


def test_copying_a_day_gives_other_days_its_switch_and_ranges_with_their_own_ids():
    ed = editor(weekly=[(1, "09:00", "12:00"), (1, "13:00", "17:00"), (3, "08:00", "09:00")])
    assert ed.copy_day(1, [2, 3, 5]) is None
    for day in (2, 3, 5):
        assert ed.days[day].on and ranges(ed, day) == ranges(ed, 1)
    ids = [r.id for d in ed.days.values() for r in d.ranges]
    assert len(ids) == len(set(ids)) == 8
    ed.set_range(ed.days[2].ranges[0].id, time(10), time(12))
    assert ranges(ed, 1)[0] == (time(9), time(12))  # copies, not shared ranges
    assert ed.copy_day(4, [1]) is None  # a day off copied is a day off
    assert not ed.days[1].on and ranges(ed, 1) == []
    assert ed.copy_day(2, []) == "Choose the days to copy to."
    ed.set_range(ed.days[2].ranges[0].id, time(12), time(11))
    assert ed.copy_day(2, [6]) == "Fix Tuesday's hours first."
    assert not ed.days[6].on


def test_overrides_are_a_day_off_or_hours_and_refused_when_they_clash():
    ed = editor()
    assert ed.add_override(None, None, None, day_off=True) == "Choose the date."
    assert ed.add_override(date(2031, 2, 4), None, None, day_off=True) is None
    assert ed.add_override(date(2031, 2, 4), time(9), time(10), day_off=False) == (
        "Tue 4 Feb 2031 is a day off already: remove that first."
    )
    assert ed.add_override(date(2031, 2, 3), time(9), time(12), day_off=False) is None
    assert ed.add_override(date(2031, 2, 3), time(11), time(13), day_off=False) == (
        "Overlaps 09:00–12:00 on Mon 3 Feb 2031."
    )
    assert ed.add_override(date(2031, 2, 3), time(14), time(13), day_off=False) == (
        "It ends (13:00) before it starts (14:00): give a later end."
    )
    assert ed.add_override(date(2031, 2, 3), None, time(13), day_off=False) == (
        "Give the start and end times, or choose a day off."
    )
    assert ed.add_override(date(2031, 2, 3), None, None, day_off=True) == (
        "Mon 3 Feb 2031 already has an override: remove it first."
    )
    assert ed.add_override(date(2031, 2, 3), time(14), time(16), day_off=False) is None  # two ranges on a date
    assert [o.describe() for o in ed.overrides] == [
        "Mon 3 Feb 2031: 09:00–12:00",
        "Mon 3 Feb 2031: 14:00–16:00",
        "Tue 4 Feb 2031: day off",
    ]
    ed.remove_override(ed.overrides[0].id)
    assert ed.as_input().overrides == [(date(2031, 2, 3), time(14), time(16)), (date(2031, 2, 4), None, None)]


def test_time_off_is_a_run_of_days_with_a_private_note():
    ed = editor()
    assert ed.add_time_off(None, None) == "Choose the first day (and the last, for more than one day)."
    assert ed.add_time_off(date(2031, 3, 3), date(2031, 3, 1)) == (
        "The last day is before the first; give them in order."
    )
    assert ed.add_time_off(date(2031, 3, 1), date(2031, 3, 3), "  Conference ") is None
    assert ed.add_time_off(date(2031, 1, 9), None) is None  # one day
    assert ed.as_input().time_off == [
        (date(2031, 1, 9), date(2031, 1, 9), ""),
        (date(2031, 3, 1), date(2031, 3, 3), "Conference"),
    ]
    ed.remove_time_off(ed.time_off[0].id)
    assert [t.describe() for t in ed.time_off] == ["Sat 1 Mar 2031 to Mon 3 Mar 2031"]


# --- headless: the week colleagues would see -------------------------------------------------------------------------


def test_the_week_uses_overrides_over_weekly_hours_and_time_off_over_both():
    ed = editor(
        weekly=[(d, "09:00", "12:00") for d in range(1, 8)],
        overrides=[("2027-01-05", "14:00", "15:00"), ("2027-01-06", None, None), ("2027-01-07", "10:00", "11:00")],
        time_off=[("2027-01-07", "2027-01-08", "private")],
    )
    ed.set_on(7, False)
    week = ed.week(date(2027, 1, 4))  # Monday
    assert [(p.reason, p.ranges) for p in week] == [
        (WEEKLY, [(time(9), time(12))]),
        (OVERRIDE, [(time(14), time(15))]),
        ("Day off (date override)", []),
        ("Time off", []),
        ("Time off", []),
        (WEEKLY, [(time(9), time(12))]),
        ("Not working", []),
    ]
    assert ed.summary(date(2027, 1, 4))[:3] == [
        (date(2027, 1, 4), "09:00–12:00"),
        (date(2027, 1, 5), "14:00–15:00"),
        (date(2027, 1, 6), "Day off (date override)"),
    ]
    bad = ed.add_range(1)
    ed.set_range(bad.id, time(11), time(13))  # still being typed (overlapping): left out of the preview
    assert ed.plan(date(2027, 1, 4)).ranges == [(time(9), time(12))]


def test_in_another_zone_a_range_crossing_its_midnight_is_split_over_two_days():
    ed = editor(weekly=[(1, "09:00", "12:00"), (1, "17:00", "22:00")])
    first = date(2027, 1, 4)  # a Monday in winter: London is five hours ahead of New York
    assert ed.bars(first, "Europe/London") == [
        Bar(date(2027, 1, 4), 14.0, 17.0, "14:00–17:00 London time", "09:00–12:00 New York time", WEEKLY),
        Bar(date(2027, 1, 4), 22.0, 24.0, "22:00–03:00 (next day) London time", "17:00–22:00 New York time", WEEKLY),
        Bar(date(2027, 1, 5), 0.0, 3.0, "22:00–03:00 (next day) London time", "17:00–22:00 New York time", WEEKLY),
    ]
    assert ed.summary(first, "Europe/London")[:2] == [
        (date(2027, 1, 4), "14:00–17:00, 22:00–24:00"),
        (date(2027, 1, 5), "00:00–03:00"),
    ]
    # In the consultant's own zone nothing moves.
    assert [(b.day, b.starts, b.ends) for b in ed.bars(first)] == [(first, 9.0, 12.0), (first, 17.0, 22.0)]
    # Tokyo is 14 hours ahead: Monday evening in New York is Tuesday morning there, and the week spans eight days.
    assert [(b.day, b.starts, b.ends) for b in ed.bars(first, "Asia/Tokyo")] == [
        (date(2027, 1, 4), 23.0, 24.0),
        (date(2027, 1, 5), 0.0, 2.0),
        (date(2027, 1, 5), 7.0, 12.0),
    ]
    assert ed.shown_days(first, "Asia/Tokyo") == [first + timedelta(days=n) for n in range(8)]
    # West of the consultant the week starts the day before.
    assert ed.shown_days(first, "America/Los_Angeles")[0] == date(2027, 1, 3)


def test_a_daylight_saving_week_keeps_the_consultants_clock_and_moves_the_other_zones():
    """New York moves its clocks on Sun 8 Mar 2026, London not until 29 Mar: for those three weeks the two zones
    are four hours apart, not five. The consultant's 09:00 stays 09:00 on their own clock all week."""
    ed = editor(weekly=[(d, "09:00", "17:00") for d in range(1, 8)])
    first = date(2026, 3, 5)  # Thursday
    home = ed.bars(first)
    assert {(b.starts, b.ends) for b in home} == {(9.0, 17.0)} and len(home) == 7
    london = [(b.day, b.starts, b.ends) for b in ed.bars(first, "Europe/London")]
    assert london == [(date(2026, 3, d), 14.0, 22.0) for d in (5, 6, 7)] + [
        (date(2026, 3, d), 13.0, 21.0) for d in (8, 9, 10, 11)
    ]
    assert ed.bars(first, "Europe/London")[3].home == "09:00–17:00 New York time"


def test_today_is_the_consultants_calendar_day():
    from datetime import UTC, datetime

    late_evening = datetime(2027, 1, 5, 3, 30, tzinfo=UTC)  # Tue 03:30 UTC is still Monday in New York
    assert today_in("America/New_York", late_evening) == date(2027, 1, 4)
    assert today_in("Asia/Tokyo", late_evening) == date(2027, 1, 5)


# --- the page, through AppTest ----------------------------------------------------------------------------------------


@pytest.fixture
def page_tools(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""
    from tests import page_support, people_support

    return SimpleNamespace(
        PAGES=page_support.PAGES,
        app=page_support.app,
        no_exceptions=page_support.no_exceptions,
        texts=page_support.texts,
        make_consultant=people_support.make_consultant,
    )


def saved(backend, consultant_id: str) -> dict:
    return backend.rpc("get_my_availability", {}, as_user=Claims.user(consultant_id))


def weekly(doc: dict) -> list[tuple[int, str, str]]:
    return sorted((h["weekday"], h["starts_at"][:5], h["ends_at"][:5]) for h in doc["weekly_hours"])


def by_label(at, kind: str, label: str) -> list:
    return [element for element in getattr(at, kind) if element.label == label]


def key_of(at, kind: str, prefix: str):
    """A widget by its key in whichever generation the page draws it (FormGeneration adds `_g<n>`)."""
    from tests.page_support import keyed

    return keyed(at, kind, prefix)


def error_next_to(at, element) -> str | None:
    """The error drawn right after `element` (a range's Remove button, an Add button), if any."""
    from tests.page_support import element_after

    after = element_after(at, element)
    return after.value if after in at.error else None


def range_ids(at, day: str) -> list[str]:
    """The ids of a day's ranges, top to bottom, read from their widgets' keys."""
    return [ti.key.split("_range_", 1)[1].split("_from", 1)[0] for ti in by_label(at, "time_input", f"{day} from")]


def test_set_weekly_hours_copy_them_refuse_a_bad_range_add_an_override_and_time_off_then_save(
    backend, embedded_db, page_tools
):
    t = page_tools
    username, consultant_id = t.make_consultant(backend, embedded_db)  # no weekly hours yet
    at = t.app(username).run()
    at.switch_page(t.PAGES["availability"]).run()
    t.no_exceptions(at)
    assert [toggle.label for toggle in at.toggle][:7] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    assert not any(toggle.value for toggle in at.toggle[:7])
    assert "Times are New York time (America/New_York)." in " ".join(t.texts(at, "caption"))

    # Monday on: 09:00–17:00 to start from; made 09:00–12:00, and a second range 13:00–17:00.
    key_of(at, "toggle", "availability_day1_on").set_value(True).run()
    t.no_exceptions(at)
    first = range_ids(at, "Monday")
    assert len(first) == 1
    assert [ti.value for ti in at.time_input if ti.key.startswith(f"availability_range_{first[0]}_")] == [
        time(9),
        time(17),
    ]
    key_of(at, "time_input", f"availability_range_{first[0]}_until").set_value(time(12)).run()
    key_of(at, "button", "availability_day1_add").click().run()
    t.no_exceptions(at)
    ids = range_ids(at, "Monday")
    assert ids[0] == first[0] and len(ids) == 2
    key_of(at, "time_input", f"availability_range_{ids[1]}_until").set_value(time(17)).run()
    assert [ti.value for ti in by_label(at, "time_input", "Monday from")] == [time(9), time(13)]
    assert [ti.value for ti in by_label(at, "time_input", "Monday until")] == [time(12), time(17)]

    # Copy Monday to Tuesday and Thursday.
    pills = key_of(at, "pills", "availability_day1_copy_to")
    pills.set_value([2, 4]).run()
    key_of(at, "button", "availability_day1_copy").click().run()
    t.no_exceptions(at)
    assert "Monday's hours copied to Tuesday, Thursday." in t.texts(at, "success")
    for day in ("Tuesday", "Thursday"):
        assert [ti.value for ti in by_label(at, "time_input", f"{day} from")] == [time(9), time(13)]
        assert [ti.value for ti in by_label(at, "time_input", f"{day} until")] == [time(12), time(17)]
    assert [toggle.value for toggle in at.toggle[:7]] == [True, True, False, True, False, False, False]

    # A Tuesday range made to end before it starts: refused next to it at once, before any save.
    tuesday = range_ids(at, "Tuesday")
    key_of(at, "time_input", f"availability_range_{tuesday[1]}_until").set_value(time(11)).run()
    t.no_exceptions(at)
    remove = key_of(at, "button", f"availability_range_{tuesday[1]}_remove")
    assert error_next_to(at, remove) == "It ends (11:00) before it starts (13:00): give a later end."
    assert error_next_to(at, key_of(at, "button", f"availability_range_{tuesday[0]}_remove")) is None

    # An override and time off, from the date pickers.
    day_off = today_in("America/New_York") + timedelta(days=30)
    key_of(at, "date_input", "availability_override_date").set_value(day_off).run()
    key_of(at, "button", "availability_override_add").click().run()
    t.no_exceptions(at)
    special = day_off + timedelta(days=1)
    key_of(at, "date_input", "availability_override_date").set_value(special).run()
    key_of(at, "toggle", "availability_override_day_off").set_value(False).run()
    key_of(at, "time_input", "availability_override_from").set_value(time(14)).run()
    key_of(at, "time_input", "availability_override_until").set_value(time(16)).run()
    key_of(at, "button", "availability_override_add").click().run()
    t.no_exceptions(at)
    away = (today_in("America/New_York") + timedelta(days=40), today_in("America/New_York") + timedelta(days=42))
    key_of(at, "date_input", "availability_time_off_dates").set_value(away).run()
    key_of(at, "text_input", "availability_time_off_note").input("Conference").run()
    key_of(at, "button", "availability_time_off_add").click().run()
    t.no_exceptions(at)
    markdown = " ".join(m.value for m in at.markdown)
    assert f"{special:%a} {special.day} {special:%b %Y}: 14:00–16:00" in markdown
    assert f"{day_off:%a} {day_off.day} {day_off:%b %Y}: day off" in markdown
    assert "Conference" in markdown

    # Saving is refused while the Tuesday range is wrong, and nothing is lost: the same widgets, the same values.
    keys = sorted(w.key for kind in ("time_input", "toggle") for w in getattr(at, kind) if w.key)
    key_of(at, "number_input", "availability_session_minutes").set_value(60).run()
    at.button(key="availability_save").click().run()
    t.no_exceptions(at)
    assert "Availability saved." not in t.texts(at, "success")
    assert "Some fields need attention." in t.texts(at, "error")
    remove = key_of(at, "button", f"availability_range_{tuesday[1]}_remove")
    assert error_next_to(at, remove) == "It ends (11:00) before it starts (13:00): give a later end."
    assert sorted(w.key for kind in ("time_input", "toggle") for w in getattr(at, kind) if w.key) == keys
    assert [ti.value for ti in by_label(at, "time_input", "Tuesday until")] == [time(12), time(11)]
    assert key_of(at, "number_input", "availability_session_minutes").value == 60
    assert weekly(saved(backend, consultant_id)) == []  # nothing was saved

    # Fixed, it saves; what the database holds is what was set.
    key_of(at, "time_input", f"availability_range_{tuesday[1]}_until").set_value(time(18)).run()
    at.button(key="availability_save").click().run()
    t.no_exceptions(at)
    assert "Availability saved." in t.texts(at, "success")
    doc = saved(backend, consultant_id)
    assert weekly(doc) == [
        (1, "09:00", "12:00"),
        (1, "13:00", "17:00"),
        (2, "09:00", "12:00"),
        (2, "13:00", "18:00"),
        (4, "09:00", "12:00"),
        (4, "13:00", "17:00"),
    ]
    assert [
        (o["on_date"], o["starts_at"] and o["starts_at"][:5], o["ends_at"] and o["ends_at"][:5])
        for o in doc["overrides"]
    ] == [(day_off.isoformat(), None, None), (special.isoformat(), "14:00", "16:00")]
    assert [(x["starts_on"], x["ends_on"], x["note"]) for x in doc["time_off"]] == [
        (away[0].isoformat(), away[1].isoformat(), "Conference")
    ]
    assert doc["settings"]["session_minutes"] == 60
    # The page shows what was saved, drawn afresh.
    assert [toggle.value for toggle in at.toggle[:7]] == [True, True, False, True, False, False, False]
    assert [ti.value for ti in by_label(at, "time_input", "Tuesday until")] == [time(12), time(18)]


def test_the_preview_shows_the_edited_week_in_the_consultants_zone_and_another(backend, embedded_db, page_tools):
    t = page_tools
    username, consultant_id = t.make_consultant(backend, embedded_db)
    at = t.app(username).run()
    at.switch_page(t.PAGES["availability"]).run()
    for n in range(1, 8):
        key_of(at, "toggle", f"availability_day{n}_on").set_value(True)
    at.run()
    evening = range_ids(at, "Monday")[0]
    key_of(at, "time_input", f"availability_range_{evening}_from").set_value(time(18)).run()
    key_of(at, "time_input", f"availability_range_{evening}_until").set_value(time(22)).run()
    t.no_exceptions(at)
    assert len(at.get("vega_lite_chart")) == 1
    today = today_in("America/New_York")
    days = " ".join(m.value for m in at.markdown)
    assert f"**{today:%a} {today.day} {today:%b}**: " in days  # the coming week starts today
    monday = next(today + timedelta(days=n) for n in range(7) if (today + timedelta(days=n)).isoweekday() == 1)
    assert f"**{monday:%a} {monday.day} {monday:%b}**: 18:00–22:00" in days  # edited, not yet saved
    assert saved(backend, consultant_id)["weekly_hours"] == []
    at.toggle(key="availability_preview_other").set_value(True).run()
    at.selectbox(key="availability_preview_zone").set_value("Asia/Tokyo").run()
    t.no_exceptions(at)
    assert any("Times in the preview are Tokyo time (Asia/Tokyo)." in c for c in t.texts(at, "caption"))
    tuesday = monday + timedelta(days=1)
    days = " ".join(m.value for m in at.markdown)
    # Monday 18:00–22:00 New York is Tuesday 08:00–12:00 in Tokyo (07:00–11:00 while New York keeps summer time).
    assert any(
        f"**{tuesday:%a} {tuesday.day} {tuesday:%b}**: {words}" in days for words in ("08:00–12:00", "07:00–11:00")
    ), days


def test_a_database_refusal_is_shown_next_to_its_section_and_nothing_typed_is_lost(backend, embedded_db, page_tools):
    """The page has no rule for two overrides whose date a second tab changed: the database's sentence, field
    'overrides', goes under Date overrides; the weekly hours typed stay."""
    t = page_tools
    username, consultant_id = t.make_consultant(backend, embedded_db)
    at = t.app(username).run()
    at.switch_page(t.PAGES["availability"]).run()
    key_of(at, "toggle", "availability_day3_on").set_value(True).run()
    on = today_in("America/New_York") + timedelta(days=20)
    key_of(at, "date_input", "availability_override_date").set_value(on).run()
    key_of(at, "toggle", "availability_override_day_off").set_value(False).run()
    key_of(at, "button", "availability_override_add").click().run()
    editor_state = at.session_state["availability_editor"]
    # Two ranges on one date that overlap cannot be added on the page; made so underneath, the database refuses.
    editor_state.overrides.append(type(editor_state.overrides[0])("o99", on, time(10), time(11)))
    at.button(key="availability_save").click().run()
    t.no_exceptions(at)
    words = on.strftime("%-d %b %Y")
    add = key_of(at, "button", "availability_override_add")
    from tests.page_support import element_after

    under = element_after(at, add)
    assert under in at.error and under.value == f"Two overrides overlap on {words}; merge them into one row."
    assert "Availability saved." not in t.texts(at, "success")
    assert [toggle.value for toggle in at.toggle[:7]] == [False, False, True, False, False, False, False]
    assert [ti.value for ti in by_label(at, "time_input", "Wednesday from")] == [time(9)]
    assert saved(backend, consultant_id)["overrides"] == []


def test_a_save_over_a_change_made_elsewhere_is_refused_and_the_latest_can_be_loaded(backend, embedded_db, page_tools):
    t = page_tools
    username, consultant_id = t.make_consultant(backend, embedded_db)
    at = t.app(username).run()
    at.switch_page(t.PAGES["availability"]).run()
    key_of(at, "toggle", "availability_day5_on").set_value(True).run()
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # another tab saved meanwhile
        conn.execute(
            "update public.availability_settings set version = version + 1, buffer_minutes = 20 "
            "where consultant_id = %s",
            (consultant_id,),
        )
    at.button(key="availability_save").click().run()
    t.no_exceptions(at)
    assert any("changed elsewhere" in e for e in t.texts(at, "error"))
    assert key_of(at, "toggle", "availability_day5_on").value is True  # kept until the member chooses
    at.button(key="availability_load_latest").click().run()
    t.no_exceptions(at)
    assert key_of(at, "toggle", "availability_day5_on").value is False
    assert key_of(at, "number_input", "availability_buffer_minutes").value == 20
    at.button(key="availability_save").click().run()
    assert "Availability saved." in t.texts(at, "success")


def test_a_date_picked_but_not_added_holds_the_save(backend, embedded_db, page_tools):
    t = page_tools
    username, consultant_id = t.make_consultant(backend, embedded_db)
    at = t.app(username).run()
    at.switch_page(t.PAGES["availability"]).run()
    picked = today_in("America/New_York") + timedelta(days=9)
    key_of(at, "date_input", "availability_override_date").set_value(picked).run()
    at.button(key="availability_save").click().run()
    t.no_exceptions(at)
    assert error_next_to(at, key_of(at, "button", "availability_override_add")) == (
        "Press Add override to keep this date (or clear it) before saving."
    )
    assert key_of(at, "date_input", "availability_override_date").value == picked
    assert saved(backend, consultant_id)["overrides"] == []
    key_of(at, "button", "availability_override_add").click().run()
    at.button(key="availability_save").click().run()
    assert "Availability saved." in t.texts(at, "success")
    assert [o["on_date"] for o in saved(backend, consultant_id)["overrides"]] == [picked.isoformat()]
