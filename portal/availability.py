"""A consultant's availability: settings, weekly hours, date overrides, time off; open slots."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portal.db import APIError, Backend, Claims, DatabaseUnavailable, Refusal
from portal.profiles import emptied_row_message, known_timezones

#: The grids whose refusals the database names in `detail` (20261129001000_bounds_on_every_input.sql).
GRIDS = ("weekly_hours", "overrides", "time_off")
#: The settings the database refuses by name (its triggers say which field in `detail`).
SETTING_FIELDS = (
    "timezone",
    "session_minutes",
    "buffer_minutes",
    "min_notice_hours",
    "max_sessions_per_week",
    "late_cancel_hours",
)

WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}


def blank(*cells: Any) -> bool:
    """A grid row with nothing typed in it (added and left empty): skipped, neither refused nor saved."""
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


@dataclass
class AvailabilityInput:
    timezone: str
    session_minutes: int = 50
    buffer_minutes: int = 10
    min_notice_hours: int = 24
    max_sessions_per_week: int | None = None
    late_cancel_hours: int = 24
    # The grids' rows, top to bottom, as typed: an incomplete row is refused by `validate` with its number and
    # the missing cells named; a row with nothing in it (added to a grid and left empty) is skipped and not saved.
    weekly_hours: list[tuple[int | None, time | None, time | None]] = field(default_factory=list)
    overrides: list[tuple[date | None, time | None, time | None]] = field(default_factory=list)  # no times: day off
    time_off: list[tuple[date | None, date | None, str]] = field(default_factory=list)
    # How many of the first rows of each grid were saved before (a grid lists them first, new rows after). One of
    # them with every cell cleared is refused, not deleted: rows are deleted with the checkbox and the bin icon.
    saved_weekly_hours: int = 0
    saved_overrides: int = 0
    saved_time_off: int = 0

    def validate(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        if self.timezone not in known_timezones():
            errors["timezone"] = "Choose a time zone from the list."
        if not 15 <= self.session_minutes <= 180:
            errors["session_minutes"] = "Sessions last 15 to 180 minutes."
        if not 0 <= self.buffer_minutes <= 120:
            errors["buffer_minutes"] = "The buffer is 0 to 120 minutes."
        if not 0 <= self.min_notice_hours <= 720:
            errors["min_notice_hours"] = "Minimum notice is 0 to 720 hours."
        if self.max_sessions_per_week is not None and not 1 <= self.max_sessions_per_week <= 80:
            errors["max_sessions_per_week"] = "The weekly maximum is 1 to 80 sessions, or empty for none."
        if not 0 <= self.late_cancel_hours <= 168:
            errors["late_cancel_hours"] = "The late-cancellation threshold is 0 to 168 hours."
        problems = []
        by_day: dict[int, list[tuple[time, time]]] = {}
        for n, (weekday, start, end) in enumerate(self.weekly_hours, start=1):
            if blank(weekday, start, end):
                if n <= self.saved_weekly_hours:
                    problems.append(emptied_row_message(f"Row {n}"))
                continue
            missing = []
            if weekday not in WEEKDAYS:
                missing.append(f"Row {n}: choose a day.")
            if start is None:
                missing.append(f"Row {n}: give the start time.")
            if end is None:
                missing.append(f"Row {n}: give the end time.")
            if weekday is None or weekday not in WEEKDAYS or start is None or end is None:  # what `missing` names
                problems += missing
            elif end <= start:
                problems.append(f"Row {n}: {WEEKDAYS[weekday]} ends before it starts.")
            else:
                by_day.setdefault(weekday, []).append((start, end))
        for weekday, ranges in by_day.items():
            ranges.sort()
            for (_, end_a), (start_b, _) in zip(ranges, ranges[1:], strict=False):
                if start_b < end_a:
                    problems.append(f"{WEEKDAYS[weekday]}: two ranges overlap.")
        if problems:
            errors["weekly_hours"] = " ".join(problems)
        override_problems = []
        for n, (day, start, end) in enumerate(self.overrides, start=1):
            if blank(day, start, end):
                if n <= self.saved_overrides:
                    override_problems.append(emptied_row_message(f"Override {n}"))
                continue
            if day is None:
                override_problems.append(f"Override {n}: choose the date.")
            if (start is None) != (end is None):
                override_problems.append(f"Override {n}: give both times, or neither for a day off.")
            elif start is not None and end is not None and end <= start:
                override_problems.append(f"Override {n}: it ends before it starts.")
        if override_problems:
            errors["overrides"] = " ".join(override_problems)
        off_problems = []
        for n, (first, last, note) in enumerate(self.time_off, start=1):
            if blank(first, last, note):
                if n <= self.saved_time_off:
                    off_problems.append(emptied_row_message(f"Time off {n}"))
                continue
            if first is None:
                off_problems.append(f"Time off {n}: choose the first day.")
            if last is None:
                off_problems.append(f"Time off {n}: choose the last day.")
            if first is not None and last is not None and last < first:
                off_problems.append(f"Time off {n}: the last day is before the first; give them in order.")
        if off_problems:
            errors["time_off"] = " ".join(off_problems)
        return errors

    def params(self, expected_version: int) -> dict[str, Any]:
        return {
            "p_settings": {
                "timezone": self.timezone,
                "session_minutes": self.session_minutes,
                "buffer_minutes": self.buffer_minutes,
                "min_notice_hours": self.min_notice_hours,
                "max_sessions_per_week": self.max_sessions_per_week,
                "late_cancel_hours": self.late_cancel_hours,
            },
            "p_weekly_hours": [
                {"weekday": d, "starts_at": s.isoformat(), "ends_at": e.isoformat()}
                for d, s, e in self.weekly_hours
                if s is not None and e is not None  # validate() refused a row missing one, and skips blank ones
            ],
            "p_overrides": [
                {
                    "on_date": d.isoformat(),
                    "starts_at": s.isoformat() if s else None,
                    "ends_at": e.isoformat() if e else None,
                }
                for d, s, e in self.overrides
                if d is not None  # validate() refused a row without its date, and skips blank ones
            ],
            "p_time_off": [
                {"starts_on": a.isoformat(), "ends_on": b.isoformat(), "note": note}
                for a, b, note in self.time_off
                if a is not None and b is not None  # validate() refused a row missing one, and skips blank ones
            ],
            "p_expected_version": expected_version,
        }


def load_my_availability(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("get_my_availability", {}, as_user=claims)


def save_my_availability(
    backend: Backend, claims: Claims, form: AvailabilityInput, *, expected_version: int
) -> dict[str, Any]:
    if errors := form.validate():
        raise Refusal("Some fields need attention.", fields=errors)
    try:
        return backend.rpc("save_my_availability", form.params(expected_version), as_user=claims)
    except Refusal as exc:
        if exc.code == "P0001" and exc.field == "version":
            raise Refusal(f"{exc.message} {exc.hint}", "version", exc.code) from exc
        if exc.code == "P0001" and exc.field in (*GRIDS, *SETTING_FIELDS):
            # The database's rules (bounds, overlapping ranges, each setting's range): its sentence goes next to
            # the grid or the field it names.
            raise Refusal("Some fields need attention.", code=exc.code, fields={exc.field: exc.message}) from exc
        raise Refusal(exc.message, code=exc.code) from exc


BUSY_PREVIEW_DAYS = 8


def coming_busy_times(backend: Backend, claims: Claims, *, days: int = BUSY_PREVIEW_DAYS) -> list[dict[str, Any]]:
    """When the consultant's own calendars say they are busy over the coming `days` (merged; when, never why).
    Empty when they cannot be read now: the preview then shows the hours alone."""
    now = datetime.now(UTC)
    try:
        return backend.rpc(
            "my_busy_times",
            {"p_from": now.isoformat(), "p_to": (now + timedelta(days=days)).isoformat()},
            as_user=claims,
        )
    except (APIError, DatabaseUnavailable):
        return []


def open_slots(
    backend: Backend, claims: Claims, consultant_id: str, first: date, last: date, client_id: str | None = None
) -> list[dict[str, Any]]:
    return backend.rpc(
        "open_slots",
        {"p_consultant": consultant_id, "p_from": first.isoformat(), "p_to": last.isoformat(), "p_client": client_id},
        as_user=claims,
    )
