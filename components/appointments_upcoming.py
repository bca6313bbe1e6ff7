"""The Upcoming tab of Appointments: a card per session that will take place, to confirm or decline a proposed
time, and to cancel or move it with its late rule stated first."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.appointments_common import announce, open_times, status_badge
from components.slots import booked_from_picker, picked_time_gone, slot_label, slot_picker
from portal.appointments import KEPT_TERMS, Refusal, answer, cancel, late_rule, notice_given, reschedule
from portal.auth import CurrentUser
from portal.db import Backend
from portal.plain_text import plain


def upcoming_card(backend: Backend, user: CurrentUser, appt: dict[str, Any], my_tz: str) -> None:
    with st.container(border=True, key=f"appt_card_{appt['id']}"):
        st.markdown(
            f"**{slot_label(appt['starts_at'], my_tz, appt['other_timezone'])}** · "
            f"{plain(appt['other_name'])} · {status_badge(appt['status'])}"
        )
        if appt["rescheduled_from"]:
            st.caption("Moved from an earlier time.")
        if appt["status"] == "requested" and not appt["requested_by_me"]:
            _answer(backend, user, appt)
        with st.expander("Cancel or move this session"):
            _cancel_or_move(backend, user, appt, my_tz)


def _answer(backend: Backend, user: CurrentUser, appt: dict[str, Any]) -> None:
    ok, no = st.columns([1, 2])
    if ok.button("Confirm", key=f"appt_confirm_{appt['id']}", type="primary"):
        try:
            answer(backend, user.claims, appt["id"], confirm=True)
        except Refusal as exc:
            st.error(exc.message, icon=":material/error:")
        else:
            announce("Confirmed.")
    why = no.text_input("Reason to decline", key=f"appt_decline_reason_{appt['id']}")
    if no.button("Decline", key=f"appt_decline_{appt['id']}"):
        try:
            answer(backend, user.claims, appt["id"], confirm=False, reason=why)
        except Refusal as exc:
            st.error(exc.message, icon=":material/error:")
        else:
            announce("Declined.")


def _cancel_or_move(backend: Backend, user: CurrentUser, appt: dict[str, Any], my_tz: str) -> None:
    # The session's own threshold, the one it was booked under (a move keeps it too), stated before any click:
    # what counts as late, and from when.
    late_cancel_hours = appt["late_cancel_hours"]
    st.caption(late_rule(late_cancel_hours, appt["starts_at"], my_tz))
    st.caption(KEPT_TERMS)
    reason = st.text_input("Reason (required, shared with the other party)", key=f"appt_cancel_reason_{appt['id']}")
    late_key = f"appt_late_{appt['id']}"
    if st.session_state.get(late_key):
        st.warning(st.session_state[late_key], icon=":material/schedule:")
    accept_late = bool(st.session_state.get(late_key)) and st.checkbox(
        "I understand this will be recorded as a late cancellation", key=f"appt_accept_late_{appt['id']}"
    )
    if st.button("Cancel session", key=f"appt_cancel_{appt['id']}"):
        try:
            cancelled = cancel(backend, user.claims, appt["id"], reason, accept_late=accept_late)
        except Refusal as exc:
            _refused(exc, late_key)
        else:
            st.session_state.pop(late_key, None)
            announce(
                f"Cancelled with {notice_given(cancelled['notice_hours'])}. {plain(appt['other_name'])} was notified."
            )
    if not st.toggle("Move to another time", key=f"appt_move_{appt['id']}"):
        return
    i_consult = appt["my_role"] == "consultant"
    consultant_id, client_id = (user.id, appt["other_id"]) if i_consult else (appt["other_id"], user.id)
    picker = f"appt_move_slot_{appt['id']}"
    new_start = slot_picker(
        open_times(backend, user, consultant_id, client_id),
        viewer_tz=my_tz,
        key=picker,
        consultant_tz=my_tz if i_consult else appt["other_timezone"],
        late_cancel_hours=late_cancel_hours,
    )
    if new_start and st.button("Move session", key=f"appt_move_submit_{appt['id']}") and not picked_time_gone(picker):
        try:
            reschedule(backend, user.claims, appt["id"], new_start, reason, accept_late=accept_late)
        except Refusal as exc:
            _refused(exc, late_key)
        else:
            booked_from_picker(picker, new_start)
            st.session_state.pop(late_key, None)
            announce("Moved. The other party will confirm the new time.")


def _refused(exc: Refusal, late_key: str) -> None:
    """A late cancellation or move is announced (and asked to be accepted) before it is recorded; any other
    refusal is said where the button is."""
    if exc.code == "late":
        st.session_state[late_key] = exc.message
        st.rerun()
    st.error(exc.message, icon=":material/error:")
