"""Appointments: book sessions with the colleagues you work with, answer, cancel or move them."""

from datetime import UTC, datetime

import streamlit as st

from components import context
from components.appointments_book import book_tab
from components.appointments_common import NOTICE_KEY, status_badge
from components.appointments_past import past_tab
from components.appointments_upcoming import upcoming_card
from components.appointments_week import week_view
from components.errors import database_errors_as_messages
from components.slots import slot_label
from portal.appointments import (
    NO_SUCH_SESSION,
    PAST,
    RECORD_COUNTS_ONLY_YOURS,
    TAB_STATE_KEY,
    TABS,
    listing_window,
    my_appointments,
    professionalism_record,
    record_summary,
    sections,
    tab_listing,
)
from portal.ics import my_calendar_file
from portal.mydata import plural
from portal.plain_text import plain
from portal.requests import my_engagements

user = context.require_user()
backend = context.backend()

st.title("Appointments")
st.caption("Your sessions, in your time zone. Book with colleagues you work with; every change notifies the other.")

with database_errors_as_messages():
    my_tz = context.my_timezone(backend, user)  # kept in this session under the member's id, not read every rerun
    engagements = [e for e in my_engagements(backend, user.claims) if e["status"] == "active"]
    now = datetime.now(UTC)
    appointments = my_appointments(backend, user.claims, *listing_window(now))

# The one-shot notice goes into a slot that is drawn on every run, so the tabs below keep their place in the page
# whether or not a notice shows (a notice drawn only on some runs moved them, and the browser reset the tab).
notice_slot = st.empty()
if notice := st.session_state.pop(NOTICE_KEY, None):
    notice_slot.success(notice, icon=":material/check_circle:")

# One session by its address (appointments?session=<id>: a notice's "Open", an email's link): named above the tabs,
# and the tab that lists it opened once (later tab clicks stay the member's). Unknown and not-yours read alike.
asked = st.query_params.get("session") or st.session_state.pop("view_session", None)
if asked:
    focused = next((a for a in appointments if str(a["id"]) == str(asked)), None)
    if focused is None:
        st.warning(NO_SUCH_SESSION, icon=":material/link_off:")
        st.query_params.pop("session", None)
    else:
        st.query_params["session"] = str(asked)
        listing = tab_listing(focused, now)
        if st.session_state.get("appointments_focus") != str(asked):
            st.session_state["appointments_focus"] = str(asked)
            st.session_state[TAB_STATE_KEY] = listing
        when = slot_label(focused["starts_at"], my_tz, focused["other_timezone"])
        st.info(
            f"This link is about your session on **{when}** with {plain(focused['other_name'])} "
            f"({status_badge(focused['status'])}), listed under {listing}.",
            icon=":material/event:",
        )

# The tabs keep their selection in session state (TAB_STATE_KEY): it survives reruns, and Notifications sets it
# to open this page on the tab that lists the item.
book, upcoming_tab, week_tab, past = st.tabs(list(TABS), key=TAB_STATE_KEY, on_change="rerun")

with book:
    book_tab(backend, user, engagements, my_tz)

listed = sections(appointments, now)
called_off = listed["called_off"]

with upcoming_tab:
    if not listed["upcoming"]:
        st.caption("No upcoming sessions.")
    if called_off:
        st.caption(f"{plural(len(called_off), 'cancelled or declined session')} not yet due: under {PAST}.")
    for appt in listed["upcoming"]:
        upcoming_card(backend, user, appt, my_tz)

with week_tab:
    week_view(appointments, my_tz)

with past:
    past_tab(backend, user, called_off, listed["past"], my_tz)

st.divider()
left, right = st.columns(2)
left.download_button(
    "Download calendar (.ics)",
    key="appointments_ics",
    # Built when pressed (Streamlit runs the callable then), not on every rerun of the page: it asks the database for
    # each session's calendar UID and SEQUENCE.
    data=lambda: my_calendar_file(backend, user.claims, appointments, viewer_timezone=my_tz),
    file_name="peer-consultation-appointments.ics",
    mime="text/calendar",
    icon=":material/calendar_month:",
)
with database_errors_as_messages():
    record = professionalism_record(backend, user.claims, user.id)
right.markdown(f"**Your record:** {record_summary(record)}")
if record.get("as_client"):  # a consultant who is also someone's client: that side is theirs alone to read
    right.markdown(f"**Your record as a client:** {record_summary(record['as_client'])}")
right.caption(RECORD_COUNTS_ONLY_YOURS)
