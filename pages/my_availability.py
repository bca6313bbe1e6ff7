"""My availability: when colleagues can book you, with notice, buffers and time off."""

from datetime import date, time, timedelta

import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from components.slots import slot_label
from portal.availability import WEEKDAYS, AvailabilityError, AvailabilityInput, load_my_availability, open_slots
from portal.availability import save_my_availability as save
from portal.profiles import known_timezones, timezone_label

user = context.require_user()
backend = context.backend()
st.title("My availability")
st.caption("Your weekly hours, exceptions and rules for booking. Colleagues see open times in their own zone.")

SETTINGS = ("session_minutes", "buffer_minutes", "min_notice_hours", "max_sessions_per_week", "late_cancel_hours")


def as_time(value):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value if isinstance(value, time) else time.fromisoformat(str(value)[:8])


def load_into_form(doc: dict) -> None:
    settings = doc["settings"]
    st.session_state["availability_timezone"] = doc["timezone"]
    for name in SETTINGS:
        st.session_state[f"availability_{name}"] = settings[name]
    st.session_state["availability_version"] = settings["version"]
    st.session_state["availability_hours_base"] = pd.DataFrame(
        [{"weekday": WEEKDAYS[h["weekday"]], "starts_at": as_time(h["starts_at"]), "ends_at": as_time(h["ends_at"])}
         for h in doc["weekly_hours"]], columns=["weekday", "starts_at", "ends_at"])
    st.session_state["availability_overrides_base"] = pd.DataFrame(
        [{"on_date": date.fromisoformat(o["on_date"]), "starts_at": as_time(o["starts_at"]),
          "ends_at": as_time(o["ends_at"])} for o in doc["overrides"]], columns=["on_date", "starts_at", "ends_at"])
    st.session_state["availability_time_off_base"] = pd.DataFrame(
        [{"starts_on": date.fromisoformat(t["starts_on"]), "ends_on": date.fromisoformat(t["ends_on"]),
          "note": t.get("note") or ""} for t in doc["time_off"]], columns=["starts_on", "ends_on", "note"])
    for key in ("availability_hours", "availability_overrides", "availability_time_off"):
        st.session_state.pop(key, None)
    st.session_state["availability_owner"] = user.id
    st.session_state["availability_errors"] = {}


if st.session_state.get("availability_owner") != user.id:
    with database_errors_as_messages():
        load_into_form(load_my_availability(backend, user.claims))
elif "availability_reload_doc" in st.session_state:
    load_into_form(st.session_state.pop("availability_reload_doc"))
errors = st.session_state.setdefault("availability_errors", {})


def field_error(name: str) -> None:
    if errors.get(name):
        st.error(errors[name], icon=":material/error:")


def edited(base_key: str, widget_key: str) -> pd.DataFrame:
    frame = st.session_state[base_key].copy()
    delta = st.session_state.get(widget_key) or {}
    for row, changes in (delta.get("edited_rows") or {}).items():
        for column, value in changes.items():
            frame.at[int(row), column] = value
    frame = frame.drop(index=[int(r) for r in delta.get("deleted_rows") or []], errors="ignore")
    added = pd.DataFrame(delta.get("added_rows") or [], columns=frame.columns)
    return pd.concat([frame, added], ignore_index=True) if len(added) else frame


def as_date(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


with st.form("availability_form", border=False):
    st.subheader("Rules")
    st.selectbox("Time zone", options=sorted(known_timezones()), key="availability_timezone",
                 format_func=timezone_label)
    left, right = st.columns(2)
    left.number_input("Session length (minutes)", step=5, key="availability_session_minutes")
    right.number_input("Buffer between sessions (minutes)", step=5, key="availability_buffer_minutes")
    left.number_input("Minimum booking notice (hours)", step=1, key="availability_min_notice_hours")
    right.number_input("Maximum sessions per week (empty: no maximum)", step=1, value=None,
                       key="availability_max_sessions_per_week")
    left.number_input("Late-cancellation threshold (hours)", step=1, key="availability_late_cancel_hours")
    for name in SETTINGS:
        field_error(name)
    st.subheader("Weekly hours")
    st.data_editor(st.session_state["availability_hours_base"], key="availability_hours", num_rows="dynamic",
                   hide_index=True, width="stretch", column_config={
                       "weekday": st.column_config.SelectboxColumn("Day", options=list(WEEKDAYS.values()),
                                                                   required=True),
                       "starts_at": st.column_config.TimeColumn("From", step=900, required=True),
                       "ends_at": st.column_config.TimeColumn("Until", step=900, required=True)})
    field_error("weekly_hours")
    st.subheader("Date overrides")
    st.caption("Different hours on one date, or leave the times empty for a day off.")
    st.data_editor(st.session_state["availability_overrides_base"], key="availability_overrides",
                   num_rows="dynamic", hide_index=True, width="stretch", column_config={
                       "on_date": st.column_config.DateColumn("Date", required=True),
                       "starts_at": st.column_config.TimeColumn("From", step=900),
                       "ends_at": st.column_config.TimeColumn("Until", step=900)})
    field_error("overrides")
    st.subheader("Time off")
    st.data_editor(st.session_state["availability_time_off_base"], key="availability_time_off", num_rows="dynamic",
                   hide_index=True, width="stretch", column_config={
                       "starts_on": st.column_config.DateColumn("First day", required=True),
                       "ends_on": st.column_config.DateColumn("Last day", required=True),
                       "note": st.column_config.TextColumn("Note (private)", max_chars=200)})
    field_error("time_off")
    submitted = st.form_submit_button("Save availability", type="primary", key="availability_save")

if submitted:
    day_numbers = {name: number for number, name in WEEKDAYS.items()}

    def number(key):
        value = st.session_state[key]
        return None if value is None else int(value)

    hours = edited("availability_hours_base", "availability_hours")
    overrides = edited("availability_overrides_base", "availability_overrides")
    time_off = edited("availability_time_off_base", "availability_time_off")
    form = AvailabilityInput(
        timezone=st.session_state["availability_timezone"],
        session_minutes=number("availability_session_minutes") or 0,
        buffer_minutes=number("availability_buffer_minutes") or 0,
        min_notice_hours=number("availability_min_notice_hours") or 0,
        max_sessions_per_week=number("availability_max_sessions_per_week"),
        late_cancel_hours=number("availability_late_cancel_hours") or 0,
        weekly_hours=[(day_numbers.get(r.weekday), as_time(r.starts_at), as_time(r.ends_at))
                      for r in hours.itertuples(index=False)],
        overrides=[(as_date(r.on_date), as_time(r.starts_at), as_time(r.ends_at))
                   for r in overrides.itertuples(index=False)],
        time_off=[(as_date(r.starts_on), as_date(r.ends_on), r.note if isinstance(r.note, str) else "")
                  for r in time_off.itertuples(index=False)],
    )
    try:
        saved = save(backend, user.claims, form, expected_version=st.session_state["availability_version"])
    except AvailabilityError as exc:
        st.session_state["availability_errors"] = {**exc.fields, "form": exc.message}
    else:
        st.session_state["availability_reload_doc"] = saved
        st.session_state["availability_notice"] = "Availability saved."
    st.rerun()

if errors.get("form"):
    st.error(errors["form"], icon=":material/error:")
    if "changed elsewhere" in errors["form"] and st.button(
            "Load the latest saved version (replaces what is in the form)", key="availability_load_latest"):
        with database_errors_as_messages():
            st.session_state["availability_reload_doc"] = load_my_availability(backend, user.claims)
        st.rerun()
elif notice := st.session_state.pop("availability_notice", None):
    st.success(notice, icon=":material/check_circle:")

st.subheader("Preview: open times in the next two weeks")
with database_errors_as_messages():
    preview = open_slots(backend, user.claims, user.id, date.today(), date.today() + timedelta(days=14))
tz = st.session_state["availability_timezone"]
if preview:
    by_day: dict[str, list[str]] = {}
    for slot in preview:
        label = slot_label(slot["starts_at"], tz, tz).replace(" (your time)", "")
        day, _, hour = label.rpartition(", ")
        by_day.setdefault(day, []).append(hour)
    st.dataframe(pd.DataFrame([{"Day": d, "Open times": ", ".join(h)} for d, h in by_day.items()]),
                 hide_index=True, width="stretch")
else:
    st.caption("No open times in the next two weeks.")
