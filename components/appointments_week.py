"""The Week tab of Appointments: the member's own sessions in the booking week view (components/slots.py), days
across and times down on their clock, their zone named; previous, this and next week."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from components.appointments_common import BADGE_COLOURS
from components.slots import week_columns, week_navigation
from portal.appointments import STATUS_WORDS, week_shown, weeks_listed
from portal.local_times import in_zone
from portal.plain_text import plain
from portal.week_grid import Day, monday_of, week_of

KEY = "appointments_week"  # the week shown is kept under f"{KEY}_week" (its Monday), as slot_picker keeps its own


def week_view(appointments: list[dict[str, Any]], zone: str) -> None:
    """Opens on this week; Previous and Next move a week at a time within the weeks the page read."""
    today = datetime.now(ZoneInfo(zone)).date()
    first, last = weeks_listed(today)
    monday = week_shown(st.session_state.get(f"{KEY}_week"), today)
    week_navigation(
        KEY,
        monday,
        zone,
        previous=monday - timedelta(weeks=1) if monday > first else None,
        following=monday + timedelta(weeks=1) if monday < last else None,
        this_week=monday_of(today),
    )
    days = week_of(appointments, zone, monday)
    week_columns(days, lambda day: _sessions_of(day, zone))
    if not any(day.entries for day in days):
        st.caption("No sessions this week.")


def _sessions_of(day: Day, zone: str) -> None:
    """Each session that starts on `day`: its time on the member's clock, the other party, its status in words
    (coloured words, not a badge: a badge's words are cut off in a day's narrow column)."""
    for appt in day.entries:
        starts, name = in_zone(appt["starts_at"], zone), plain(appt["other_name"])
        with st.container(key=f"{KEY}_session_{appt['id']}"):
            # The start only, as the booking view shows times: "09:00–09:50" does not fit a day's column.
            st.markdown(
                f"**{starts:%H:%M}**  \n{name}  \n:{BADGE_COLOURS[appt['status']]}[{STATUS_WORDS[appt['status']]}]"
            )
