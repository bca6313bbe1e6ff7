"""My availability as a consultant edits it: each weekday on or off with one or more time ranges, date overrides
(a day off, or different hours on one date) and time off (a run of days with a private note), and the week
colleagues would see, on the consultant's clock or another zone's.

Headless (no Streamlit): components/availability_editor.py draws it and views/my_availability.py keeps one
`AvailabilityEditor` per member in the session, so nothing typed is lost across reruns or a refused save. Every
range, override and time-off period has an id that never changes while the editor lives: widget keys carry it,
so removing one never shifts another's values. `as_input` builds the same `AvailabilityInput` the grids built,
so the database's rules and sentences are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from portal.availability import WEEKDAYS, AvailabilityInput
from portal.local_times import zone_words

SETTINGS = ("session_minutes", "buffer_minutes", "min_notice_hours", "max_sessions_per_week", "late_cancel_hours")
DEFAULT_RANGE = (time(9), time(17))
STEP = timedelta(minutes=15)  # the time pickers' step
LAST_START = time(23, 45)

WEEKLY, OVERRIDE = "Weekly hours", "Date override"


def clock(value: time | None) -> str:
    return "--:--" if value is None else f"{value:%H:%M}"


def span(start: time | None, end: time | None) -> str:
    return f"{clock(start)}–{clock(end)}"


def hours_of(start: time | None, end: time | None) -> tuple[time, time] | None:
    """(start, end) once both are given and the end is after the start; None while a range is still being typed."""
    return (start, end) if start is not None and end is not None and end > start else None


def day_words(day: date) -> str:
    """'Tue 3 Feb 2031': a date as the page says it."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def as_time(value: Any) -> time | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    return time.fromisoformat(str(value)[:5])


@dataclass
class TimeRange:
    id: str
    starts_at: time | None
    ends_at: time | None

    @property
    def complete(self) -> bool:
        return self.starts_at is not None and self.ends_at is not None

    @property
    def hours(self) -> tuple[time, time] | None:
        return hours_of(self.starts_at, self.ends_at)

    @property
    def valid(self) -> bool:
        return self.hours is not None


@dataclass
class Weekday:
    number: int  # 1 = Monday … 7 = Sunday (ISO), as the database stores it
    on: bool = False
    ranges: list[TimeRange] = field(default_factory=list)

    @property
    def name(self) -> str:
        return WEEKDAYS[self.number]


@dataclass
class Override:
    id: str
    on_date: date
    starts_at: time | None = None  # no times: a day off
    ends_at: time | None = None

    @property
    def day_off(self) -> bool:
        return self.starts_at is None and self.ends_at is None

    def describe(self) -> str:
        return f"{day_words(self.on_date)}: " + ("day off" if self.day_off else span(self.starts_at, self.ends_at))


@dataclass
class TimeOff:
    id: str
    starts_on: date
    ends_on: date
    note: str = ""

    def describe(self) -> str:
        if self.starts_on == self.ends_on:
            return day_words(self.starts_on)
        return f"{day_words(self.starts_on)} to {day_words(self.ends_on)}"


@dataclass(frozen=True)
class Bar:
    """One stretch of open hours on the shown clock: a range crossing that zone's midnight is two bars."""

    day: date  # on the shown zone's calendar
    starts: float  # hours after that day's midnight on the shown clock, 0–24
    ends: float
    shown: str  # the whole range on the shown clock, '22:00–02:00 (next day) London time'
    home: str  # the same range on the consultant's clock, '17:00–21:00 New York time'
    source: str  # WEEKLY or OVERRIDE


@dataclass(frozen=True)
class PlanDay:
    """One day of the coming week on the consultant's calendar: the ranges colleagues may book and why."""

    on: date
    ranges: list[tuple[time, time]]
    reason: str  # 'Weekly hours', 'Date override', 'Day off (date override)', 'Time off', 'Not working'
    source: str  # WEEKLY or OVERRIDE


@dataclass
class AvailabilityEditor:
    timezone: str
    settings: dict[str, int | None]
    days: dict[int, Weekday]
    overrides: list[Override] = field(default_factory=list)
    time_off: list[TimeOff] = field(default_factory=list)
    version: int = 0
    last_id: int = 0

    # --- loading and ids ------------------------------------------------------------------------------------

    @classmethod
    def from_saved(cls, doc: dict[str, Any]) -> AvailabilityEditor:
        """The editor for what get_my_availability (or save_my_availability) returned."""
        settings = doc["settings"]
        editor = cls(
            timezone=doc["timezone"],
            settings={name: settings[name] for name in SETTINGS},
            days={n: Weekday(n) for n in WEEKDAYS},
            version=settings["version"],
        )
        for row in sorted(doc["weekly_hours"], key=lambda h: (h["weekday"], str(h["starts_at"]))):
            day = editor.days[int(row["weekday"])]
            day.on = True
            day.ranges.append(TimeRange(editor.new_id("r"), as_time(row["starts_at"]), as_time(row["ends_at"])))
        for row in doc["overrides"]:
            editor.overrides.append(
                Override(
                    editor.new_id("o"),
                    date.fromisoformat(str(row["on_date"])),
                    as_time(row["starts_at"]),
                    as_time(row["ends_at"]),
                )
            )
        for row in doc["time_off"]:
            editor.time_off.append(
                TimeOff(
                    editor.new_id("t"),
                    date.fromisoformat(str(row["starts_on"])),
                    date.fromisoformat(str(row["ends_on"])),
                    row.get("note") or "",
                )
            )
        editor.sort()
        return editor

    def new_id(self, prefix: str) -> str:
        self.last_id += 1
        return f"{prefix}{self.last_id}"

    def sort(self) -> None:
        self.overrides.sort(key=lambda o: (o.on_date, o.starts_at or time.min))
        self.time_off.sort(key=lambda t: (t.starts_on, t.ends_on))

    def find_range(self, range_id: str) -> tuple[Weekday, TimeRange] | None:
        for day in self.days.values():
            for r in day.ranges:
                if r.id == range_id:
                    return day, r
        return None

    # --- weekly hours -------------------------------------------------------------------------------------

    def set_on(self, weekday: int, on: bool) -> None:
        """Switch a day on or off. Its ranges are kept while it is off (not saved); a day switched on with none
        gets 09:00–17:00 to start from."""
        day = self.days[weekday]
        day.on = on
        if on and not day.ranges:
            day.ranges.append(TimeRange(self.new_id("r"), *DEFAULT_RANGE))

    def add_range(self, weekday: int) -> TimeRange:
        """A new range an hour after the day's last one ends (an hour long), or 09:00–17:00 on an empty day."""
        day = self.days[weekday]
        ends = [r.ends_at for r in day.ranges if r.ends_at is not None]
        if not ends:
            start, end = DEFAULT_RANGE if not day.ranges else (None, None)
        else:
            latest = datetime.combine(date.min, max(ends))
            start_at, end_at = latest + timedelta(hours=1), latest + timedelta(hours=2)
            fits = end_at.date() == date.min and end_at.time() <= LAST_START
            start, end = (start_at.time(), end_at.time()) if fits else (None, None)
        added = TimeRange(self.new_id("r"), start, end)
        day.on = True
        day.ranges.append(added)
        return added

    def remove_range(self, range_id: str) -> None:
        for day in self.days.values():
            day.ranges = [r for r in day.ranges if r.id != range_id]

    def set_range(self, range_id: str, starts_at: time | None, ends_at: time | None) -> None:
        found = self.find_range(range_id)
        if found:
            found[1].starts_at, found[1].ends_at = starts_at, ends_at

    def range_problems(self) -> dict[str, str]:
        """Range id -> the sentence shown next to it: a missing time, an end not after the start, an overlap
        with another range of the same day. Days switched off are not saved, so not checked."""
        problems: dict[str, str] = {}
        for day in self.days.values():
            if not day.on:
                continue
            for r in day.ranges:
                if r.starts_at is None and r.ends_at is None:
                    problems[r.id] = "Give the start and end times, or remove this range."
                elif r.starts_at is None:
                    problems[r.id] = "Give the start time."
                elif r.ends_at is None:
                    problems[r.id] = "Give the end time."
                elif r.ends_at <= r.starts_at:
                    problems[r.id] = (
                        f"It ends ({clock(r.ends_at)}) before it starts ({clock(r.starts_at)}): give a later end."
                    )
            ordered = sorted(
                ((hours, r.id) for r in day.ranges if (hours := r.hours) is not None and r.id not in problems),
                key=lambda pair: pair[0],
            )
            for index, ((later_start, _), later_id) in enumerate(ordered):
                earlier = next((hours for hours, _ in ordered[:index] if hours[1] > later_start), None)
                if earlier is not None:
                    problems[later_id] = f"Overlaps {span(*earlier)} on {day.name}: change one or remove it."
        return problems

    def copy_day(self, source: int, targets: list[int]) -> str | None:
        """Give `targets` the source day's switch and ranges (new ids); a sentence instead if it cannot."""
        targets = [t for t in targets if t != source and t in WEEKDAYS]
        if not targets:
            return "Choose the days to copy to."
        day = self.days[source]
        if any(r.id in self.range_problems() for r in day.ranges):
            return f"Fix {day.name}'s hours first."
        for target in targets:
            self.days[target].on = day.on
            self.days[target].ranges = [TimeRange(self.new_id("r"), r.starts_at, r.ends_at) for r in day.ranges]
        return None

    # --- date overrides and time off ----------------------------------------------------------------------

    def add_override(
        self, on_date: date | None, starts_at: time | None, ends_at: time | None, *, day_off: bool
    ) -> str | None:
        """Add a day off or one range of hours on a date; a sentence instead if it cannot be added."""
        if on_date is None:
            return "Choose the date."
        same_day = [o for o in self.overrides if o.on_date == on_date]
        if day_off:
            if same_day:
                return f"{day_words(on_date)} already has an override: remove it first."
            self.overrides.append(Override(self.new_id("o"), on_date))
        else:
            if starts_at is None or ends_at is None:
                return "Give the start and end times, or choose a day off."
            if ends_at <= starts_at:
                return f"It ends ({clock(ends_at)}) before it starts ({clock(starts_at)}): give a later end."
            if any(o.day_off for o in same_day):
                return f"{day_words(on_date)} is a day off already: remove that first."
            saved_hours = [hours for o in same_day if (hours := hours_of(o.starts_at, o.ends_at)) is not None]
            clash = next(((s, e) for s, e in saved_hours if s < ends_at and starts_at < e), None)
            if clash:
                return f"Overlaps {span(*clash)} on {day_words(on_date)}."
            self.overrides.append(Override(self.new_id("o"), on_date, starts_at, ends_at))
        self.sort()
        return None

    def remove_override(self, override_id: str) -> None:
        self.overrides = [o for o in self.overrides if o.id != override_id]

    def add_time_off(self, first: date | None, last: date | None, note: str = "") -> str | None:
        """Add a run of days off (one day when `last` is None); a sentence instead if it cannot be added."""
        if first is None:
            return "Choose the first day (and the last, for more than one day)."
        last = last or first
        if last < first:
            return "The last day is before the first; give them in order."
        self.time_off.append(TimeOff(self.new_id("t"), first, last, (note or "").strip()))
        self.sort()
        return None

    def remove_time_off(self, time_off_id: str) -> None:
        self.time_off = [t for t in self.time_off if t.id != time_off_id]

    # --- saving -----------------------------------------------------------------------------------------------

    def weekly_rows(self) -> list[tuple[int | None, time | None, time | None]]:  # AvailabilityInput's rows
        return [(day.number, r.starts_at, r.ends_at) for day in self.days.values() if day.on for r in day.ranges]

    def as_input(self) -> AvailabilityInput:
        """What save_my_availability takes: the days switched on with their ranges, the overrides, the time off."""

        def number(name: str) -> int:
            value = self.settings.get(name)
            return 0 if value is None else int(value)

        max_sessions = self.settings.get("max_sessions_per_week")  # none: no weekly maximum

        return AvailabilityInput(
            timezone=self.timezone,
            session_minutes=number("session_minutes"),
            buffer_minutes=number("buffer_minutes"),
            min_notice_hours=number("min_notice_hours"),
            max_sessions_per_week=None if max_sessions is None else int(max_sessions),
            late_cancel_hours=number("late_cancel_hours"),
            weekly_hours=self.weekly_rows(),
            overrides=[(o.on_date, o.starts_at, o.ends_at) for o in self.overrides],
            time_off=[(t.starts_on, t.ends_on, t.note) for t in self.time_off],
        )

    # --- the week colleagues would see --------------------------------------------------------------------------

    def plan(self, day: date) -> PlanDay:
        """The ranges open on `day` (the consultant's calendar), as open_slots builds them: time off closes the
        day; a date with overrides uses them (a day off, or their hours); other dates use the weekly hours.
        Ranges still being typed (incomplete, reversed, overlapping) are left out."""
        if any(t.starts_on <= day <= t.ends_on for t in self.time_off):
            return PlanDay(day, [], "Time off", OVERRIDE)
        overrides = [o for o in self.overrides if o.on_date == day]
        if overrides:
            hours = sorted(h for o in overrides if (h := hours_of(o.starts_at, o.ends_at)) is not None)
            return PlanDay(day, hours, OVERRIDE if hours else "Day off (date override)", OVERRIDE)
        weekday = self.days[day.isoweekday()]
        problems = self.range_problems()
        hours = sorted(h for r in weekday.ranges if weekday.on and r.id not in problems and (h := r.hours) is not None)
        return PlanDay(day, hours, WEEKLY if hours else "Not working", WEEKLY)

    def week(self, first: date, days: int = 7) -> list[PlanDay]:
        return [self.plan(first + timedelta(days=n)) for n in range(days)]

    def bars(self, first: date, shown_zone: str | None = None, days: int = 7) -> list[Bar]:
        """The open hours of the `days` from `first` (the consultant's calendar) on `shown_zone`'s clock (the
        consultant's by default). Local times become instants in the consultant's zone (so 09:00 stays 09:00
        across their daylight-saving change), then the shown zone's clock; a range crossing the shown zone's
        midnight is split into two bars, one on each day."""
        home = ZoneInfo(self.timezone)
        shown_name = shown_zone or self.timezone
        shown = ZoneInfo(shown_name)
        bars: list[Bar] = []
        for planned in self.week(first, days):
            for start, end in planned.ranges:
                a = datetime.combine(planned.on, start, tzinfo=home).astimezone(shown)
                b = datetime.combine(planned.on, end, tzinfo=home).astimezone(shown)
                later = (b.date() - a.date()).days
                shown_text = f"{a:%H:%M}–{b:%H:%M}" + (" (next day)" if later else "") + f" {zone_words(shown_name)}"
                home_text = f"{span(start, end)} {zone_words(self.timezone)}"
                a_hours, b_hours = a.hour + a.minute / 60, b.hour + b.minute / 60
                if not later:
                    bars.append(Bar(a.date(), a_hours, b_hours, shown_text, home_text, planned.source))
                    continue
                bars.append(Bar(a.date(), a_hours, 24.0, shown_text, home_text, planned.source))
                if b_hours > 0:
                    bars.append(Bar(b.date(), 0.0, b_hours, shown_text, home_text, planned.source))
        return bars

    def shown_days(self, first: date, shown_zone: str | None = None, days: int = 7) -> list[date]:
        """The days (on the shown zone's calendar) the week spans: the consultant's `days` from `first`, which in
        another zone may begin the day before or end the day after."""
        home, shown = ZoneInfo(self.timezone), ZoneInfo(shown_zone or self.timezone)
        begin = datetime.combine(first, time.min, tzinfo=home).astimezone(shown).date()
        end = (
            datetime.combine(first + timedelta(days=days), time.min, tzinfo=home).astimezone(shown)
            - timedelta(microseconds=1)
        ).date()
        return [begin + timedelta(days=n) for n in range((end - begin).days + 1)]

    def summary(self, first: date, shown_zone: str | None = None, days: int = 7) -> list[tuple[date, str]]:
        """A sentence per shown day, the chart's text alternative: '09:00–12:00, 13:00–17:00', 'Time off' …"""
        if shown_zone in (None, self.timezone):
            return [(p.on, ", ".join(span(s, e) for s, e in p.ranges) or p.reason) for p in self.week(first, days)]
        by_day: dict[date, list[str]] = {}
        for bar in self.bars(first, shown_zone, days):
            end = "24:00" if bar.ends == 24 else f"{int(bar.ends):02d}:{round(bar.ends % 1 * 60):02d}"
            by_day.setdefault(bar.day, []).append(f"{int(bar.starts):02d}:{round(bar.starts % 1 * 60):02d}–{end}")
        return [(d, ", ".join(by_day.get(d, [])) or "No open hours") for d in self.shown_days(first, shown_zone, days)]


def today_in(zone: str, now: datetime | None = None) -> date:
    """Today on `zone`'s calendar."""
    return (now or datetime.now(ZoneInfo(zone))).astimezone(ZoneInfo(zone)).date()
