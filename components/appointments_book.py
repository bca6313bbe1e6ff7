"""The Book tab of Appointments: propose a time to someone you work with, from the booking week view; before
there is anyone, what the reader (consultant or seeker) can do meanwhile."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.appointments_common import announce, open_times
from components.errors import database_errors_as_messages
from components.slots import booked_from_picker, picked_time_gone, slot_picker
from portal.appointments import Refusal, before_an_engagement, book, cancellation_policy
from portal.auth import CurrentUser
from portal.db import Backend
from portal.plain_text import plain
from portal.requests import my_requests

REFUSAL_KEY = "book_refusal"


def book_tab(backend: Backend, user: CurrentUser, engagements: list[dict[str, Any]], my_tz: str) -> None:
    if not engagements:
        no_one_to_book_with(backend, user)
        return
    names = {
        # not markdown: a selectbox's options are plain text
        e["other_id"]: f"{e['other_name']} (your {'client' if e['my_role'] == 'consultant' else 'consultant'})"
        for e in engagements
    }
    other = st.selectbox("With", options=list(names), format_func=names.get, key="book_with")
    engagement = next(e for e in engagements if e["other_id"] == other)
    i_consult = engagement["my_role"] == "consultant"
    consultant_id, client_id = (user.id, other) if i_consult else (other, user.id)
    with database_errors_as_messages():
        policy = cancellation_policy(backend, user.claims, consultant_id)
    # One picker per colleague: a time picked for one is never taken for a time gone with another.
    picker = f"book_slot_{other}"
    chosen = slot_picker(
        open_times(backend, user, consultant_id, client_id),
        viewer_tz=my_tz,
        consultant_tz=my_tz if i_consult else engagement["other_timezone"],
        key=picker,
        late_cancel_hours=policy.get("late_cancel_hours"),
    )
    if refusal := st.session_state.pop(REFUSAL_KEY, None):
        st.error(refusal["message"], icon=":material/error:")  # not member text: the portal's refusal
        if refusal["code"] == "slot_taken":
            st.caption("The week above now shows the times still open.")
    if chosen and st.button("Propose this time", type="primary", key="book_submit") and not picked_time_gone(picker):
        try:
            with database_errors_as_messages():
                book(backend, user.claims, other, chosen)
        except Refusal as exc:
            # Drawn again with the open times read after the refusal: the list this run drew still offers the
            # time that was just taken.
            st.session_state[REFUSAL_KEY] = {"message": exc.message, "code": exc.code}
            st.rerun()
        else:
            booked_from_picker(picker, chosen)
            announce("Proposed. The other party will confirm or decline.")


def no_one_to_book_with(backend: Backend, user: CurrentUser) -> None:
    """How an engagement begins, for this reader, and each pending request: a seeker is led to the consultant's
    profile, where a first session can be proposed meanwhile."""
    with database_errors_as_messages():
        requests = my_requests(backend, user.claims)
    sentences = before_an_engagement(requests, is_consultant=user.is_consultant)
    for said in sentences:
        st.info(said.sentence, icon=":material/info:")
        if said.consultant_id:
            st.page_link(
                "views/consultant.py",
                label=f"{plain(said.consultant_name)}'s profile",  # a link's label is Markdown
                icon=":material/person:",
                query_params={"id": said.consultant_id},
            )
    if not user.is_consultant and not any(said.consultant_id for said in sentences):  # no one asked yet
        st.page_link("views/find.py", label="Find a consultant", icon=":material/search:")
