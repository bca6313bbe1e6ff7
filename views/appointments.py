"""Appointments: book sessions with the colleagues you work with, answer, cancel or move them."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from components.slots import booked_from_picker, picked_time_gone, slot_label, slot_picker
from portal.appointments import (
    KEPT_TERMS,
    NO_SUCH_SESSION,
    OUTCOMES,
    PAST,
    RECORD_COUNTS_ONLY_YOURS,
    RECORDABLE,
    TAB_STATE_KEY,
    TABS,
    BookingRefused,
    answer,
    attendance_line,
    book,
    cancel,
    cancellation_policy,
    late_rule,
    my_appointments,
    notice_given,
    professionalism_record,
    record_attendance,
    record_summary,
    reschedule,
    sections,
    tab_listing,
)
from portal.availability import open_slots
from portal.ics import my_calendar_file
from portal.local_times import times_caption
from portal.mydata import plural
from portal.plain_text import plain
from portal.requests import my_engagements
from portal.week_grid import HORIZON

STATUS_BADGES = {
    "requested": ":orange-badge[Proposed]",
    "confirmed": ":green-badge[Confirmed]",
    "declined": ":gray-badge[Declined]",
    "cancelled": ":red-badge[Cancelled]",
    "moved": ":gray-badge[Moved]",
    "completed": ":blue-badge[Completed]",
    "no_show": ":red-badge[No-show]",
    "consultant_no_show": ":red-badge[Consultant absent]",
    "disputed": ":orange-badge[Disputed]",
}

user = context.require_user()
backend = context.backend()


def open_times(consultant_id: str, client_id: str):
    """What the week view reads: the open times of the days it asks for (the weeks around the one shown)."""

    def days(first: date, last: date) -> list[dict]:
        with database_errors_as_messages():
            return open_slots(backend, user.claims, consultant_id, first, last, client_id)

    return days


st.title("Appointments")
st.caption("Your sessions, in your time zone. Book with colleagues you work with; every change notifies the other.")

with database_errors_as_messages():
    my_tz = context.my_timezone(backend, user)  # kept in this session under the member's id, not read every rerun
    engagements = [e for e in my_engagements(backend, user.claims) if e["status"] == "active"]
    now = datetime.now(UTC)
    # As far ahead as the week view books ("Go to week of"), so what was booked is listed.
    appointments = my_appointments(backend, user.claims, now - timedelta(days=60), now + HORIZON + timedelta(days=8))
zone = ZoneInfo(my_tz)

# The one-shot notice goes into a slot that is drawn on every run, so the tabs below keep their place in the page
# whether or not a notice shows (a notice drawn only on some runs moved them, and the browser reset the tab).
notice_slot = st.empty()
if notice := st.session_state.pop("appointments_notice", None):
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
            f"({STATUS_BADGES[focused['status']]}), listed under {listing}.",
            icon=":material/event:",
        )

# The tabs keep their selection in session state (TAB_STATE_KEY): it survives reruns, and Notifications sets it
# to open this page on the tab that lists the item.
book_tab, upcoming_tab, week_tab, past_tab = st.tabs(list(TABS), key=TAB_STATE_KEY, on_change="rerun")

with book_tab:
    if not engagements:
        st.info(
            "Sessions are booked within an engagement, which begins when a consultant accepts a request. "
            "While a request is pending, the seeker can propose a first session from the consultant's profile.",
            icon=":material/info:",
        )
    else:
        names = {
            # not markdown: a selectbox's options are plain text
            e["other_id"]: f"{e['other_name']} (your {'client' if e['my_role'] == 'consultant' else 'consultant'})"
            for e in engagements
        }
        other = st.selectbox("With", options=list(names), format_func=names.get, key="book_with")
        engagement = next(e for e in engagements if e["other_id"] == other)
        consultant_id = user.id if engagement["my_role"] == "consultant" else other
        client_id = other if engagement["my_role"] == "consultant" else user.id
        with database_errors_as_messages():
            policy = cancellation_policy(backend, user.claims, consultant_id)
        consultant_tz = my_tz if engagement["my_role"] == "consultant" else engagement["other_timezone"]
        # One picker per colleague: a time picked for one is never taken for a time gone with another.
        picker = f"book_slot_{other}"
        chosen = slot_picker(
            open_times(consultant_id, client_id),
            viewer_tz=my_tz,
            consultant_tz=consultant_tz,
            key=picker,
            late_cancel_hours=policy.get("late_cancel_hours"),
        )
        if refusal := st.session_state.pop("book_refusal", None):
            st.error(refusal["message"], icon=":material/error:")  # not member text: the portal's refusal
            if refusal["code"] == "slot_taken":
                st.caption("The week above now shows the times still open.")
        if (
            chosen
            and st.button("Propose this time", type="primary", key="book_submit")
            and not picked_time_gone(picker)
        ):
            try:
                with database_errors_as_messages():
                    book(backend, user.claims, other, chosen)
            except BookingRefused as exc:
                # Drawn again with the open times read after the refusal: the list this run drew still offers
                # the time that was just taken.
                st.session_state["book_refusal"] = {"message": exc.message, "code": exc.code}
                st.rerun()
            else:
                booked_from_picker(picker, chosen)
                st.session_state["appointments_notice"] = "Proposed. The other party will confirm or decline."
                st.rerun()

listed = sections(appointments, now)
upcoming, called_off, past = listed["upcoming"], listed["called_off"], listed["past"]


def cancellation_text(appt: dict) -> str:
    """Like " by you with 12 h notice · late": the whole hours the confirmation names (notice_given). A move
    says so: only a late one counts on the record."""
    who = "you" if appt["cancelled_by_me"] else plain(appt["other_name"])
    notice_part = f" with {notice_given(appt['notice_hours'], short=True)}" if appt["notice_hours"] is not None else ""
    late = " · :red-badge[late]" if appt["late"] else ""
    return f" by {who}{notice_part}{late}"


def history_line(appt: dict) -> str:
    line = (
        f"{slot_label(appt['starts_at'], my_tz, appt['other_timezone'])} · {plain(appt['other_name'])} · "
        f"{STATUS_BADGES[appt['status']]}"
    )
    if appt["status"] in ("cancelled", "moved"):
        line += cancellation_text(appt)
    elif appt["status"] == "declined" and appt.get("decline_reason"):
        line += f" · {plain(appt['decline_reason'])}"
    return line


def attendance_form(appt: dict) -> None:
    key = f"appt_attendance_{appt['id']}"
    with st.form(key, border=False):
        left, right = st.columns([2, 3])
        outcomes = list(OUTCOMES)
        outcome = left.selectbox(
            "What happened?",
            outcomes,
            format_func=OUTCOMES.get,
            placeholder="Choose…",
            index=outcomes.index(appt["my_statement"]) if appt.get("my_statement") else None,
            key=f"{key}_outcome",
        )
        note = right.text_input("Note (optional; the other party reads it)", max_chars=500, key=f"{key}_note")
        label = "Change what I recorded" if appt.get("my_statement") else "Record"
        if st.form_submit_button(label, key=f"{key}_save"):
            try:
                record_attendance(backend, user.claims, appt["id"], outcome, note)
            except BookingRefused as exc:
                st.error(exc.message, icon=":material/error:")
            else:
                st.session_state["appointments_notice"] = (
                    f"Recorded. {plain(appt['other_name'])} is told and can answer."
                )
                st.rerun()


with upcoming_tab:
    if not upcoming:
        st.caption("No upcoming sessions.")
    if called_off:
        st.caption(f"{plural(len(called_off), 'cancelled or declined session')} not yet due: under {PAST}.")
    for appt in upcoming:
        with st.container(border=True, key=f"appt_card_{appt['id']}"):
            st.markdown(
                f"**{slot_label(appt['starts_at'], my_tz, appt['other_timezone'])}** · "
                f"{plain(appt['other_name'])} · {STATUS_BADGES[appt['status']]}"
            )
            if appt["rescheduled_from"]:
                st.caption("Moved from an earlier time.")
            if appt["status"] == "requested" and not appt["requested_by_me"]:
                ok, no = st.columns([1, 2])
                if ok.button("Confirm", key=f"appt_confirm_{appt['id']}", type="primary"):
                    try:
                        answer(backend, user.claims, appt["id"], confirm=True)
                        st.session_state["appointments_notice"] = "Confirmed."
                        st.rerun()
                    except BookingRefused as exc:
                        st.error(exc.message)
                why = no.text_input("Reason to decline", key=f"appt_decline_reason_{appt['id']}")
                if no.button("Decline", key=f"appt_decline_{appt['id']}"):
                    try:
                        answer(backend, user.claims, appt["id"], confirm=False, reason=why)
                        st.session_state["appointments_notice"] = "Declined."
                        st.rerun()
                    except BookingRefused as exc:
                        st.error(exc.message, icon=":material/error:")
            consultant_id = user.id if appt["my_role"] == "consultant" else appt["other_id"]
            client_id = appt["other_id"] if appt["my_role"] == "consultant" else user.id
            # The session's own threshold, the one it was booked under (a move keeps it too).
            late_cancel_hours = appt["late_cancel_hours"]
            with st.expander("Cancel or move this session"):
                # The rule is stated before any click: what counts as late, and from when.
                st.caption(late_rule(late_cancel_hours, appt["starts_at"], my_tz))
                st.caption(KEPT_TERMS)
                reason = st.text_input(
                    "Reason (required, shared with the other party)", key=f"appt_cancel_reason_{appt['id']}"
                )
                late_key = f"appt_late_{appt['id']}"
                if st.session_state.get(late_key):
                    st.warning(st.session_state[late_key], icon=":material/schedule:")
                accept_late = bool(st.session_state.get(late_key)) and st.checkbox(
                    "I understand this will be recorded as a late cancellation", key=f"appt_accept_late_{appt['id']}"
                )
                if st.button("Cancel session", key=f"appt_cancel_{appt['id']}"):
                    try:
                        cancelled = cancel(backend, user.claims, appt["id"], reason, accept_late=accept_late)
                        st.session_state.pop(late_key, None)
                        st.session_state["appointments_notice"] = (
                            f"Cancelled with {notice_given(cancelled['notice_hours'])}. "
                            f"{plain(appt['other_name'])} was notified."
                        )
                        st.rerun()
                    except BookingRefused as exc:
                        if exc.code == "late":
                            st.session_state[late_key] = exc.message
                            st.rerun()
                        st.error(exc.message, icon=":material/error:")
                if st.toggle("Move to another time", key=f"appt_move_{appt['id']}"):
                    new_start = slot_picker(
                        open_times(consultant_id, client_id),
                        viewer_tz=my_tz,
                        key=f"appt_move_slot_{appt['id']}",
                        consultant_tz=my_tz if appt["my_role"] == "consultant" else appt["other_timezone"],
                        late_cancel_hours=late_cancel_hours,
                    )
                    if (
                        new_start
                        and st.button("Move session", key=f"appt_move_submit_{appt['id']}")
                        and not picked_time_gone(f"appt_move_slot_{appt['id']}")
                    ):
                        try:
                            reschedule(backend, user.claims, appt["id"], new_start, reason, accept_late=accept_late)
                            booked_from_picker(f"appt_move_slot_{appt['id']}", new_start)
                            st.session_state.pop(late_key, None)
                            st.session_state["appointments_notice"] = (
                                "Moved. The other party will confirm the new time."
                            )
                            st.rerun()
                        except BookingRefused as exc:
                            if exc.code == "late":
                                st.session_state[late_key] = exc.message
                                st.rerun()
                            st.error(exc.message, icon=":material/error:")

with week_tab:
    start_of_week = datetime.now(zone).date() - timedelta(days=datetime.now(zone).weekday())
    offset = st.number_input("Week (0 = this week)", min_value=-8, max_value=16, value=0, step=1, key="week_offset")
    first_day = start_of_week + timedelta(weeks=int(offset))
    rows = []
    for appt in appointments:
        start = datetime.fromisoformat(appt["starts_at"]).astimezone(zone)
        end = datetime.fromisoformat(appt["ends_at"]).astimezone(zone)
        if first_day <= start.date() < first_day + timedelta(days=7):
            rows.append(
                {
                    "day": start.strftime("%a %d %b"),
                    "from": start.hour + start.minute / 60,
                    "to": end.hour + end.minute / 60,
                    "with": appt["other_name"],
                    "status": appt["status"],
                    "time": f"{start:%H:%M}–{end:%H:%M}",
                }
            )
    st.caption(f"Week of {first_day:%d %b %Y}. {times_caption(my_tz)}")
    if rows:
        days = [(first_day + timedelta(days=i)).strftime("%a %d %b") for i in range(7)]
        chart = (
            alt.Chart(pd.DataFrame(rows))
            .mark_bar(cornerRadius=3)
            .encode(
                x=alt.X("day:N", sort=days, scale=alt.Scale(domain=days), title=None),
                y=alt.Y("from:Q", scale=alt.Scale(domain=[24, 6], nice=False), title="Hour"),
                y2="to:Q",
                color=alt.Color("status:N", legend=alt.Legend(orient="bottom")),
                tooltip=["with", "time", "status"],
            )
        )
        st.altair_chart(chart, width="stretch")
    else:
        st.caption("Nothing this week.")

with past_tab:
    if called_off:
        st.markdown("**Cancelled or declined, not yet due**")
        st.caption("These will not take place; their times are open again.")
        for appt in called_off:
            st.markdown(history_line(appt))
        st.markdown("**Past**")
    for appt in reversed(past):
        st.markdown(history_line(appt))
        if appt["status"] in RECORDABLE:
            # Either party says what happened; the record counts what both stand by.
            st.caption(attendance_line(appt))
            if not appt.get("resolution_note"):
                attendance_form(appt)
    if not past:
        st.caption("No past sessions in the last 60 days.")

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
