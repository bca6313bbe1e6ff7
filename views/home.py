"""Home: what needs your attention now, your next sessions, and where to go next."""

import streamlit as st

from components import context
from components.addresses import show_home_note
from components.errors import database_errors_as_messages
from portal.appointments import professionalism_record, record_summary
from portal.local_times import local_time, times_caption
from portal.mydata import attention_items, my_home, requests_waiting_sentence
from portal.plain_text import plain
from portal.profiles import load_my_profile, profile_checklist

user = context.require_user()
backend = context.backend()
st.title(f"Welcome, {plain(user.display_name)}")
st.caption("What needs your attention, and where to go next.")
show_home_note()  # why an address meant for visitors (/sign-in, /register) brought a member here

with database_errors_as_messages():
    doc = load_my_profile(backend, user.claims)
    home = my_home(backend, user.claims)

missing = profile_checklist(doc)
if missing:
    with st.container(border=True):
        # One Markdown list, so a screen reader announces one list of n items, not n lists of one.
        st.markdown(
            "**Complete your profile** so colleagues can find the right match:\n\n"
            + "\n".join(f"- {item}" for item in missing)
        )
        st.page_link("views/my_profile.py", label="Complete my profile", icon=":material/badge:")

st.header("Needs your attention")
items = attention_items(home)
if not items:
    st.success("Nothing is waiting on you.", icon=":material/check_circle:")
for sentence, page in items:
    st.page_link(page, label=sentence, icon=":material/arrow_forward:")
if home["requests_waiting"]:
    st.caption(requests_waiting_sentence(home["requests_waiting"]))

st.header("Upcoming sessions")
if not home["upcoming"]:
    st.caption("No sessions booked.")
else:
    st.caption(times_caption(doc["timezone"]))
for session in home["upcoming"]:
    badge = ":green-badge[Confirmed]" if session["status"] == "confirmed" else ":orange-badge[Proposed]"
    st.markdown(f"{local_time(session['starts_at'], doc['timezone'])} · {plain(session['other_name'])} · {badge}")
st.page_link("views/appointments.py", label="All appointments", icon=":material/event:")

if home.get("capacity"):
    capacity = home["capacity"]
    st.header("Your practice")
    left, right = st.columns(2)
    left.metric(
        "Clients", f"{capacity['active']} of {capacity['capacity']}", help="Active engagements against your capacity."
    )
    right.metric("New clients", "Accepting" if capacity["accepting"] else "Closed")
    with database_errors_as_messages():
        record = professionalism_record(backend, user.claims, user.id)
    st.caption(f"Your professionalism record: {record_summary(record)}")
    st.page_link("views/my_practice.py", label="My practice", icon=":material/workspace_premium:")
else:
    st.page_link("views/find.py", label="Find a consultant", icon=":material/search:")

role = "You offer consultation to colleagues." if doc["is_consultant"] else "You are looking for a treating colleague."
st.caption(role)
st.page_link("views/my_profile.py", label="Change this on My profile", icon=":material/badge:")
