"""My availability: when colleagues can book you, with notice, buffers and time off.

Each weekday is a switch with its time ranges, date overrides and time off are picked on calendars, and a week
chart shows the edited hours as colleagues would see them (components/availability_editor.py). What is typed
lives in an AvailabilityEditor kept in the session for this member (portal/weekly_ranges.py): reruns, a range
refused next to it and a refused save lose nothing. Saving sends the same AvailabilityInput as before, so the
database's rules and sentences are the same; its refusals are shown next to the section they concern.
"""

from datetime import UTC, datetime

import streamlit as st

from components import availability_editor as parts
from components import calendar_connections, context
from components.errors import database_errors_as_messages
from components.formstate import FormGeneration
from portal.availability import coming_busy_times, load_my_availability
from portal.availability import save_my_availability as save
from portal.consultants import NoticeRule, notice_hours
from portal.db import DatabaseUnavailable, friendly_message
from portal.refusal import Refusal
from portal.weekly_ranges import AvailabilityEditor

user = context.require_user()
backend = context.backend()
st.title("My availability")
st.caption("Your weekly hours, exceptions and rules for booking. Colleagues see open times in their own zone.")
if not user.is_consultant:  # a seeker reaches the address too (a bookmark, a link): say who it is for, draw no editor
    st.info(
        "My availability is for consultants: the hours colleagues can book with you. You do not offer consultation "
        "yet. To offer it, turn on “I offer consultation to colleagues” on My profile and set your intake and "
        "competencies on My practice; then your hours are set here.",
        icon=":material/info:",
    )
    st.page_link("views/my_practice.py", label="Go to My practice", icon=":material/workspace_premium:")
    st.page_link("views/my_profile.py", label="Go to My profile", icon=":material/badge:")
    st.stop()

EDITOR, OWNER = "availability_editor", "availability_owner"
ERRORS, NOTICE = "availability_errors", "availability_notice"
NOTICE_HOURS = "availability_notice_hours"  # the saved minimum notice, as the database applies it to bookings


def load(doc: dict) -> None:
    """Put saved availability into the editor; the widgets are drawn afresh from it."""
    if OWNER in st.session_state:
        FormGeneration("availability").renew()
    st.session_state[EDITOR] = AvailabilityEditor.from_saved(doc)
    st.session_state[OWNER] = user.id
    st.session_state[NOTICE_HOURS] = notice_hours(backend, user.claims, user.id)  # read again with each save
    st.session_state[ERRORS] = {}
    parts.messages().clear()
    context.remember_my_timezone(user.id, doc["timezone"])  # Notifications and Requests show times in it


if st.session_state.get(OWNER) != user.id:
    with database_errors_as_messages():
        load(load_my_availability(backend, user.claims))
form = FormGeneration("availability")
editor: AvailabilityEditor = st.session_state[EDITOR]
parts.sync(editor, form)  # what the widgets hold since the last run
errors: dict[str, str] = st.session_state.setdefault(ERRORS, {})
for name in ("override", "time_off"):  # "press Add first" goes once the picker is cleared or the day added
    if parts.messages().get(name, "").startswith("Press Add") and name not in parts.unadded(form):
        parts.messages().pop(name)


def save_clicked() -> None:
    parts.sync(editor, form)
    waiting = parts.unadded(form)
    if editor.range_problems() or waiting:
        parts.messages().update(waiting)  # each refusal stays next to its range or box; the rest is kept as typed
        st.session_state[ERRORS] = {"form": "Some fields need attention."}
        return
    try:
        saved = save(backend, user.claims, editor.as_input(), expected_version=editor.version)
    except Refusal as exc:
        st.session_state[ERRORS] = {**exc.fields, "form": exc.message}
        return
    except DatabaseUnavailable as exc:
        st.session_state[ERRORS] = {"form": friendly_message(exc)}
        return
    load(saved)
    st.session_state[NOTICE] = "Availability saved."


def load_latest() -> None:
    try:
        load(load_my_availability(backend, user.claims))
    except DatabaseUnavailable as exc:
        st.session_state[ERRORS] = {"form": friendly_message(exc)}


# The preview marks the hours the saved notice already closes (None, unreadable: the hours alone).
hours_of_notice = st.session_state.get(NOTICE_HOURS)
parts.remember_notice_rule(None if hours_of_notice is None else NoticeRule.at(hours_of_notice, datetime.now(UTC)))
parts.rules(editor, form, errors)
parts.weekly_hours(editor, form, errors)
parts.overrides(editor, form, errors)
parts.time_off(editor, form, errors)

st.button("Save availability", type="primary", key="availability_save", icon=":material/save:", on_click=save_clicked)
if errors.get("form"):
    st.error(errors["form"], icon=":material/error:")
    if "changed elsewhere" in errors["form"]:
        st.button(
            "Load the latest saved version (replaces what is in the form)",
            key="availability_load_latest",
            on_click=load_latest,
        )
elif notice := st.session_state.pop(NOTICE, None):
    st.success(notice, icon=":material/check_circle:")

parts.week_preview(editor, coming_busy_times(backend, user.claims))
calendar_connections.section(backend, user)
