"""Open times laid out as a week: days across, times down, in the zone the viewer chose.

Headless (no Streamlit): components/slots.py draws it. A week starts on Monday in the shown
zone, so a slot belongs to the day and the hour it has on that zone's clock — across a
daylight-saving change too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from portal.local_times import in_zone

# How far ahead the week view reaches ("Go to week of"), and Appointments lists what was booked: a year.
# The database sets no limit on booking ahead; open_slots caps the span of one request (93 days), not the
# distance from today, so each request reads the weeks around the one shown.
HORIZON = timedelta(weeks=52)
WEEKS_BEFORE, WEEKS_AFTER = 5, 8  # read around the week shown: Previous and Next find the neighbouring open weeks


@dataclass(frozen=True)
class Day:
    on: date
    times: list[tuple[str, str]] = field(default_factory=list)  # (slot start as ISO, "09:00" on the shown clock)
    entries: list[dict] = field(default_factory=list)  # the rows themselves (open times, or sessions), in time order

    @property
    def heading(self) -> str:
        return f"{self.on:%a} {self.on.day} {self.on:%b}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_of(slots: list[dict], zone: str, monday: date) -> list[Day]:
    """The seven days from `monday` with the rows (open times, or a member's sessions: anything with a
    `starts_at`) that start on each, on `zone`'s clock."""
    days = [Day(monday + timedelta(days=i)) for i in range(7)]
    for slot in slots:
        local = in_zone(slot["starts_at"], zone)
        offset = (local.date() - monday).days
        if 0 <= offset < 7:
            days[offset].times.append((slot["starts_at"], f"{local:%H:%M}"))
            days[offset].entries.append(slot)
    for day in days:
        day.times.sort(key=lambda t: datetime.fromisoformat(t[0]))
        day.entries.sort(key=lambda row: in_zone(row["starts_at"], "UTC"))
    return days


def weeks_with_slots(slots: list[dict], zone: str) -> list[date]:
    """The Mondays (on `zone`'s calendar) of the weeks that have an open time, in order."""
    return sorted({monday_of(in_zone(s["starts_at"], zone).date()) for s in slots})


def week_to_show(slots: list[dict], zone: str, wanted: date | None, picked: str | None) -> date | None:
    """The week the picker opens on: the one asked for if it has times, else the picked time's, else the first."""
    weeks = weeks_with_slots(slots, zone)
    if not weeks:
        return None
    if wanted in weeks:
        return wanted
    if picked:
        return monday_of(in_zone(picked, zone).date())
    if wanted is not None:
        later = [w for w in weeks if w >= wanted]
        return later[0] if later else weeks[-1]
    return weeks[0]


def fetch_window(today: date, week: date | None) -> tuple[date, date]:
    """The days (first, last, both included) to read open times for, on the consultant's calendar.

    Without a week asked for: the next eight weeks, as the picker first opens on the earliest open week. With
    one (a Monday): five weeks before it to eight after, so Previous and Next find the open weeks around it;
    never before yesterday (a viewer ahead of the consultant's zone is already on the consultant's tomorrow)
    nor past the horizon. At most 92 days apart, within open_slots' cap on one request."""
    first = today - timedelta(days=1)
    if week is None:
        return first, today + timedelta(weeks=WEEKS_AFTER)
    last = min(week + timedelta(weeks=WEEKS_AFTER), today + HORIZON)
    return max(first, week - timedelta(weeks=WEEKS_BEFORE)), max(last, first)
