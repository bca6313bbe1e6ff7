"""The waitlist on the pages: a seeker's "Tell me when there is room" on a full consultant's profile, and the
consultant's count on My practice (how many wait, never who)."""

from __future__ import annotations

import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.auth import CurrentUser
from portal.db import Backend
from portal.waitlist import WaitRefused, count_sentence, join, leave, renew, wait_for, wait_sentence, waiting_count

_NOTICE = "waitlist_notice"


def waitlist_offer(backend: Backend, user: CurrentUser, consultant_id: str) -> None:
    """Where a seeker meets a consultant with no room: their wait (renew, leave), or the offer to be told."""
    with database_errors_as_messages():
        wait = wait_for(backend, user.claims, consultant_id)
        zone = context.my_timezone(backend, user)
    if notice := st.session_state.pop(_NOTICE, None):
        st.success(notice, icon=":material/notifications_active:")
    if wait and wait["state"] == "waiting":
        st.info(wait_sentence(wait, zone), icon=":material/hourglass:")
        renew_column, leave_column = st.columns(2)
        if renew_column.button("Renew for 60 days", key=f"waitlist_renew_{consultant_id}", icon=":material/update:"):
            _act(renew, backend, user, consultant_id, "Renewed: you stay on the waitlist for another 60 days.")
        if leave_column.button("Leave the waitlist", key=f"waitlist_leave_{consultant_id}", icon=":material/logout:"):
            _act(leave, backend, user, consultant_id, "You left the waitlist; you will not be told.")
        return
    if wait:  # told earlier, or expired: said, and one may ask again
        st.caption(wait_sentence(wait, zone))
    st.caption("You can ask to be told, here and by email, as soon as they have room. They never see who waits.")
    if st.button("Tell me when there is room", key=f"waitlist_join_{consultant_id}", icon=":material/notifications:"):
        _act(join, backend, user, consultant_id, "You are on the waitlist. You will be told when there is room.")


def _act(action, backend: Backend, user: CurrentUser, consultant_id: str, done: str) -> None:
    """Run one waitlist action; a refusal shows under the buttons, success is said after the page is drawn again."""
    try:
        with database_errors_as_messages():
            action(backend, user.claims, consultant_id)
    except WaitRefused as exc:
        st.error(exc.message, icon=":material/error:")
        return
    st.session_state[_NOTICE] = done
    st.rerun()


def waiting_count_line(backend: Backend, user: CurrentUser) -> None:
    """My practice: how many members wait to be told when the consultant has room."""
    with database_errors_as_messages():
        count = waiting_count(backend, user.claims)
    st.caption(f":material/hourglass: {count_sentence(count)}")
