"""Notifications: requests, answers, bookings, cancellations and moves that concern you."""

import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.appointments import TAB_STATE_KEY
from portal.local_times import local_time, times_caption
from portal.notifications import destination, mark_read, my_notifications
from portal.plain_text import plain

PAGES = {
    "requests": "views/requests.py",
    "appointments": "views/appointments.py",
    "termination": "views/termination.py",
    "consultant": "views/consultant.py",
}

user = context.require_user()
backend = context.backend()
st.title("Notifications")
st.caption("What changed for you, newest first.")

with database_errors_as_messages():
    items = my_notifications(backend, user.claims)
    zone = context.my_timezone(backend, user)  # kept per session, not the whole profile per run
unread = [n for n in items if not n["read_at"]]
if unread and st.button(f"Mark all {len(unread)} as read", key="notifications_mark_all"):
    with database_errors_as_messages():
        mark_read(backend, user.claims)
    st.rerun()
if not items:
    st.caption("Nothing yet.")
else:
    st.caption(times_caption(zone))
for item in items:
    marker = ":blue-badge[new] " if not item["read_at"] else ""
    line, link = st.columns([4, 1])
    line.markdown(f"{marker}{plain(item['message'])}  \n:gray[{local_time(item['created_at'], zone)}]")
    target = destination(item)
    if (
        target
        and target[0] in PAGES
        and link.button("Open", key=f"notification_open_{item['id']}", icon=":material/open_in_new:")
    ):
        # Opening an item reads it; the sidebar count follows on the page it opens.
        if not item["read_at"]:
            with database_errors_as_messages():
                mark_read(backend, user.claims, [item["id"]])
        page, section = target
        if section and page == "appointments":
            st.session_state[TAB_STATE_KEY] = section  # Appointments opens on the tab that lists it
        if page == "termination" and item.get("plan_id"):
            st.session_state["view_plan"] = item["plan_id"]  # the plan itself (termination?plan=<id>)
        if page == "consultant":
            st.session_state["view_consultant"] = section  # their profile (consultant?id=<id>)
        if page == "appointments" and item.get("appointment_id"):
            st.session_state["view_session"] = item["appointment_id"]  # the session (appointments?session=<id>)
        st.switch_page(PAGES[page])
