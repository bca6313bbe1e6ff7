"""The Past & cancelled tab of Appointments: sessions called off while still ahead, then past sessions, each with
what happened to it; either party says what happened at a past session."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.appointments_common import announce, status_badge
from components.slots import slot_label
from portal.appointments import (
    OUTCOMES,
    RECORDABLE,
    Refusal,
    attendance_line,
    notice_given,
    record_attendance,
)
from portal.auth import CurrentUser
from portal.db import Backend
from portal.plain_text import plain


def past_tab(
    backend: Backend, user: CurrentUser, called_off: list[dict[str, Any]], past: list[dict[str, Any]], my_tz: str
) -> None:
    if called_off:
        st.markdown("**Cancelled or declined, not yet due**")
        st.caption("These will not take place; their times are open again.")
        for appt in called_off:
            st.markdown(history_line(appt, my_tz))
        st.markdown("**Past**")
    for appt in reversed(past):
        st.markdown(history_line(appt, my_tz))
        if appt["status"] in RECORDABLE:
            # Either party says what happened; the record counts what both stand by.
            st.caption(attendance_line(appt))
            if not appt.get("resolution_note"):
                attendance_form(backend, user, appt)
    if not past:
        st.caption("No past sessions in the last 60 days.")


def history_line(appt: dict[str, Any], my_tz: str) -> str:
    line = (
        f"{slot_label(appt['starts_at'], my_tz, appt['other_timezone'])} · {plain(appt['other_name'])} · "
        f"{status_badge(appt['status'])}"
    )
    if appt["status"] in ("cancelled", "moved"):
        line += cancellation_text(appt)
    elif appt["status"] == "declined" and appt.get("decline_reason"):
        line += f" · {plain(appt['decline_reason'])}"
    return line


def cancellation_text(appt: dict[str, Any]) -> str:
    """Like " by you with 12 h notice · late": the whole hours the confirmation names (notice_given). A move
    says so: only a late one counts on the record."""
    who = "you" if appt["cancelled_by_me"] else plain(appt["other_name"])
    notice_part = f" with {notice_given(appt['notice_hours'], short=True)}" if appt["notice_hours"] is not None else ""
    late = " · :red-badge[late]" if appt["late"] else ""
    return f" by {who}{notice_part}{late}"


def attendance_form(backend: Backend, user: CurrentUser, appt: dict[str, Any]) -> None:
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
            except Refusal as exc:
                st.error(exc.message, icon=":material/error:")
            else:
                announce(f"Recorded. {plain(appt['other_name'])} is told and can answer.")
