"""Appointments as an iCalendar file that common calendars import with correct times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from portal.email_messages import UID_DOMAIN, one_line  # one UID per session, in email and in the file

PORTAL_CALENDAR = "Peer Consultation Portal"

STATUS = {
    "requested": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "cancelled": "CANCELLED",
    "moved": "CANCELLED",
    "declined": "CANCELLED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",
    "consultant_no_show": "CONFIRMED",
    "disputed": "CONFIRMED",
}


def appointments_ics(
    appointments: list[dict[str, Any]],
    *,
    viewer_timezone: str,
    calendar_name: str,
    calendar_entries: dict[str, tuple[str, int]] | None = None,
) -> bytes:
    """One VEVENT per session, with times in the viewer's zone (TZID).

    `calendar_entries` ({appointment id: (series id, sequence)}, from `my_calendar_entries`) names each session as
    the emailed invitations do: the UID of its series (a move keeps the first booking's UID) and the SEQUENCE the
    viewer's calendar has seen, so importing this file after the emails updates the same event. A series appears
    once, as its latest session: a moved session's earlier time is not a second event."""
    entries = calendar_entries or {}
    latest: dict[str, dict[str, Any]] = {}
    for appt in appointments:
        if appt["status"] == "moved":
            continue
        series, _ = entries.get(str(appt["id"]), (str(appt["id"]), 0))
        if series not in latest or appt["starts_at"] > latest[series]["starts_at"]:
            latest[series] = appt
    zone = ZoneInfo(viewer_timezone)
    cal = Calendar()
    cal.add("prodid", "-//Peer Consultation Portal//appointments//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", viewer_timezone)
    for series, appt in latest.items():
        event = Event()
        event.add("uid", f"{series}@{UID_DOMAIN}")
        event.add("sequence", entries.get(str(appt["id"]), (series, 0))[1])
        event.add("dtstamp", datetime.now(UTC))
        event.add("dtstart", datetime.fromisoformat(appt["starts_at"]).astimezone(zone))
        event.add("dtend", datetime.fromisoformat(appt["ends_at"]).astimezone(zone))
        role = "Consultation with" if appt["my_role"] == "client" else "Session with"
        event.add("summary", f"{role} {one_line(appt['other_name'])}")  # icalendar escapes the rest
        event.add("status", STATUS[appt["status"]])
        if appt.get("cancel_reason"):
            event.add("description", f"Cancelled: {appt['cancel_reason']}")  # lines kept: icalendar escapes them
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def my_calendar_file(backend: Any, claims: Any, appointments: list[dict[str, Any]], *, viewer_timezone: str) -> bytes:
    """The signed-in member's sessions as one calendar file, each under the UID and SEQUENCE of its invitations."""
    rows = backend.rpc("my_calendar_entries", {}, as_user=claims) or []
    entries = {str(r["appointment_id"]): (str(r["series_id"]), int(r["sequence"])) for r in rows}
    return appointments_ics(
        appointments, viewer_timezone=viewer_timezone, calendar_name=PORTAL_CALENDAR, calendar_entries=entries
    )
