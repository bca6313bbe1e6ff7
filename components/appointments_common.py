"""What the Appointments page's parts share: a status as a badge, the open times a week view reads, and the
one-shot notice shown above the tabs after a change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import streamlit as st

from components.errors import database_errors_as_messages
from portal.appointments import STATUS_WORDS
from portal.auth import CurrentUser
from portal.availability import open_slots
from portal.db import Backend

NOTICE_KEY = "appointments_notice"

BADGE_COLOURS = {
    "requested": "orange",
    "confirmed": "green",
    "declined": "gray",
    "cancelled": "red",
    "moved": "gray",
    "completed": "blue",
    "no_show": "red",
    "consultant_no_show": "red",
    "disputed": "orange",
}


def status_badge(status: str) -> str:
    """A session's status in words, as a coloured Markdown badge (":green-badge[Confirmed]")."""
    return f":{BADGE_COLOURS[status]}-badge[{STATUS_WORDS[status]}]"


def open_times(
    backend: Backend, user: CurrentUser, consultant_id: str, client_id: str
) -> Callable[[date, date], list[dict]]:
    """What a booking week view reads: the open times of the days it asks for (the weeks around the one shown)."""

    def days(first: date, last: date) -> list[dict]:
        with database_errors_as_messages():
            return open_slots(backend, user.claims, consultant_id, first, last, client_id)

    return days


def announce(notice: str) -> None:
    """Say `notice` once, above the tabs, on the run that follows (which this starts)."""
    st.session_state[NOTICE_KEY] = notice
    st.rerun()
