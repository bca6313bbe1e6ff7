"""The notifications inbox."""

from __future__ import annotations

from typing import Any

from portal.appointments import PAST, UPCOMING
from portal.db import Backend, Claims


def unread_count(backend: Backend, claims: Claims) -> int:
    return backend.rpc("unread_notification_count", {}, as_user=claims)


def my_notifications(backend: Backend, claims: Claims, limit: int = 50) -> list[dict[str, Any]]:
    return backend.rpc("my_notifications", {"p_limit": limit}, as_user=claims)


def mark_read(backend: Backend, claims: Claims, ids: list[str] | None = None) -> int:
    return backend.rpc("mark_notifications_read", {"p_ids": ids}, as_user=claims)


# Where an appointment notification is about, as a section of the Appointments page (portal.appointments.TABS):
# a proposed, confirmed or moved session is among the upcoming ones; a declined or cancelled one among the
# sessions called off, under "Past & cancelled".
APPOINTMENT_SECTIONS = {
    "booked": UPCOMING,
    "confirmed": UPCOMING,
    "rescheduled": UPCOMING,
    "declined": PAST,
    "cancelled": PAST,
    "late_cancellation": PAST,
}


#: A notice about a consultant (the waitlist's "room opened") carries their profile's address as its page.
CONSULTANT_ADDRESS = "consultant?id="


def destination(item: dict[str, Any]) -> tuple[str, str | None] | None:
    """(page, section) an item links to: the page that handles it (its `page`) and, on Appointments, the tab
    that lists what it is about (Upcoming for an unknown appointment kind); for a consultant, their id. None when
    it links nowhere."""
    page = item.get("page")
    if not page:
        return None
    if page.startswith(CONSULTANT_ADDRESS):  # a waitlist's "room opened": the consultant's profile (the id)
        return "consultant", page.removeprefix(CONSULTANT_ADDRESS)
    if page == "appointments":
        return page, APPOINTMENT_SECTIONS.get(item.get("kind") or "", UPCOMING)
    return page, None
