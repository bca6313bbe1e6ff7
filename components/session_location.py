"""Where a consultant's sessions happen (My practice): a telehealth link or an office address, written only into
their sessions' calendar invitations (portal.practice.save_session_location)."""

from __future__ import annotations

import streamlit as st

from components.errors import database_errors_as_messages, show_notice, show_refusal
from portal.auth import CurrentUser
from portal.db import Backend
from portal.practice import load_session_location, save_session_location
from portal.refusal import Refusal


def section(backend: Backend, user: CurrentUser) -> None:
    st.header("Where sessions happen")
    st.caption(
        "A telehealth link or an office address. It goes only into your sessions' calendar invitations, to you and "
        "that session's client; no one else sees it."
    )
    with st.form("session_location_form", border=False):
        if "session_location_saved" not in st.session_state:
            with database_errors_as_messages():
                st.session_state["session_location_saved"] = load_session_location(backend, user.claims)
        typed = st.text_input(
            "Telehealth link or office address",
            value=st.session_state.get("session_location_saved", ""),
            max_chars=300,
            key="session_location",
        )
        show_refusal(st.session_state.pop("session_location_refusal", None))
        if st.form_submit_button("Save where sessions happen", key="session_location_save"):
            try:
                st.session_state["session_location_saved"] = save_session_location(backend, user.claims, typed)
            except Refusal as exc:
                st.session_state["session_location_refusal"] = exc
            else:
                st.session_state["session_location_notice"] = "Saved. Invitations from now on say where to go."
            st.rerun()
    show_notice("session_location_notice")
