"""Appointments as an iCalendar file that common calendars import with correct times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from portal.email_messages import one_line

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


def appointments_ics(appointments: list[dict[str, Any]], *, viewer_timezone: str, calendar_name: str) -> bytes:
    """One VEVENT per appointment, with times in the viewer's zone (TZID) and a stable UID."""
    zone = ZoneInfo(viewer_timezone)
    cal = Calendar()
    cal.add("prodid", "-//Peer Consultation Portal//appointments//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", viewer_timezone)
    for appt in appointments:
        event = Event()
        event.add("uid", f"{appt['id']}@peer-consultation-portal")
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
