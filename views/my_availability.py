"""My availability: when colleagues can book you, with notice, buffers and time off."""

from datetime import date, time, timedelta

import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from components.formstate import FormGeneration, cell_date, edited_frame
from components.slots import slot_label
from portal.availability import WEEKDAYS, AvailabilityError, AvailabilityInput, load_my_availability, open_slots
from portal.availability import save_my_availability as save
from portal.profiles import known_timezones, saved_rows_kept, timezone_label

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
    st.session_state["availability_values"] = {"timezone": doc["timezone"], **{n: settings[n] for n in SETTINGS}}
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
    if "availability_owner" in st.session_state:
        form.renew()  # new values: draw the widgets afresh
    st.session_state["availability_owner"] = user.id
    context.remember_my_timezone(user.id, doc["timezone"])  # Notifications and Requests show times in it
    st.session_state["availability_errors"] = {}


form = FormGeneration("availability")
if st.session_state.get("availability_owner") != user.id:
    with database_errors_as_messages():
        load_into_form(load_my_availability(backend, user.claims))
elif "availability_reload_doc" in st.session_state:
    load_into_form(st.session_state.pop("availability_reload_doc"))
form = FormGeneration("availability")
values = st.session_state["availability_values"]
errors = st.session_state.setdefault("availability_errors", {})


def field_error(name: str) -> None:
    if errors.get(name):
        st.error(errors[name], icon=":material/error:")


def edited(base_key: str, widget_name: str) -> pd.DataFrame:
    return edited_frame(st.session_state[base_key], form.value(widget_name))


def saved_rows(base_key: str, widget_name: str) -> int:
    """How many rows at the top of a grid were saved before (the rest are new)."""
    return saved_rows_kept(len(st.session_state[base_key]), form.value(widget_name))




with st.form("availability_form", border=False):
    st.subheader("Rules")
    zones = sorted(known_timezones())
    st.selectbox("Time zone", options=zones, key=form.key("timezone"), format_func=timezone_label,
                 index=zones.index(values["timezone"]) if values["timezone"] in zones else None)
    left, right = st.columns(2)
    left.number_input("Session length (minutes)", step=5, value=values["session_minutes"],
                      key=form.key("session_minutes"))
    right.number_input("Buffer between sessions (minutes)", step=5, value=values["buffer_minutes"],
                       key=form.key("buffer_minutes"))
    left.number_input("Minimum booking notice (hours)", step=1, value=values["min_notice_hours"],
                      key=form.key("min_notice_hours"))
    right.number_input("Maximum sessions per week (empty: no maximum)", step=1,
                       value=values["max_sessions_per_week"], key=form.key("max_sessions_per_week"))
    left.number_input("Late-cancellation threshold (hours)", step=1, value=values["late_cancel_hours"],
                      key=form.key("late_cancel_hours"))
    for name in SETTINGS:
        field_error(name)
    # No `required=True` on the grids' columns: Streamlit's grid leaves a new row with an empty required cell out
    # of the widget's value altogether, so an incomplete row would vanish on Save instead of being refused. The
    # columns marked "Required." are required all the same: AvailabilityInput.validate names the row and the cell.
    st.subheader("Weekly hours")
    st.caption("Day, from and until are required in every row; messages number the rows from the top. To remove a "
               "row from any of these grids, tick its checkbox and press the bin icon.")
    st.data_editor(st.session_state["availability_hours_base"], key=form.key("hours"), num_rows="dynamic",
                   hide_index=True, width="stretch", column_config={
                       "weekday": st.column_config.SelectboxColumn("Day", options=list(WEEKDAYS.values()),
                                                                   help="Required."),
                       "starts_at": st.column_config.TimeColumn("From", step=900, help="Required."),
                       "ends_at": st.column_config.TimeColumn("Until", step=900, help="Required.")})
    field_error("weekly_hours")
    st.subheader("Date overrides")
    st.caption("Different hours on one date, or leave the times empty for a day off. The date is required.")
    st.data_editor(st.session_state["availability_overrides_base"], key=form.key("overrides"),
                   num_rows="dynamic", hide_index=True, width="stretch", column_config={
                       "on_date": st.column_config.DateColumn("Date", help="Required."),
                       "starts_at": st.column_config.TimeColumn("From", step=900),
                       "ends_at": st.column_config.TimeColumn("Until", step=900)})
    field_error("overrides")
    st.subheader("Time off")
    st.caption("The first and last day are required.")
    st.data_editor(st.session_state["availability_time_off_base"], key=form.key("time_off"), num_rows="dynamic",
                   hide_index=True, width="stretch", column_config={
                       "starts_on": st.column_config.DateColumn("First day", help="Required."),
                       "ends_on": st.column_config.DateColumn("Last day", help="Required."),
                       "note": st.column_config.TextColumn("Note (private)", max_chars=200)})
    field_error("time_off")
    submitted = st.form_submit_button("Save availability", type="primary", key="availability_save")

if submitted:
    day_numbers = {name: number for number, name in WEEKDAYS.items()}

    def number(name):
        value = form.value(name)
        return None if value is None else int(value)

    hours = edited("availability_hours_base", "hours")
    overrides = edited("availability_overrides_base", "overrides")
    time_off = edited("availability_time_off_base", "time_off")
    entered = AvailabilityInput(
        timezone=form.value("timezone"),
        session_minutes=number("session_minutes") or 0,
        buffer_minutes=number("buffer_minutes") or 0,
        min_notice_hours=number("min_notice_hours") or 0,
        max_sessions_per_week=number("max_sessions_per_week"),
        late_cancel_hours=number("late_cancel_hours") or 0,
        weekly_hours=[(day_numbers.get(r.weekday), as_time(r.starts_at), as_time(r.ends_at))
                      for r in hours.itertuples(index=False)],
        overrides=[(cell_date(r.on_date), as_time(r.starts_at), as_time(r.ends_at))
                   for r in overrides.itertuples(index=False)],
        time_off=[(cell_date(r.starts_on), cell_date(r.ends_on), r.note if isinstance(r.note, str) else "")
                  for r in time_off.itertuples(index=False)],
        saved_weekly_hours=saved_rows("availability_hours_base", "hours"),
        saved_overrides=saved_rows("availability_overrides_base", "overrides"),
        saved_time_off=saved_rows("availability_time_off_base", "time_off"),
    )
    try:
        saved = save(backend, user.claims, entered, expected_version=st.session_state["availability_version"])
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
tz = values["timezone"]
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
