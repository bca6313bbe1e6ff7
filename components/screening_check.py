"""The screening check-and-waiver panel, shown on a profile or next to a request: a "Check for conflicts" button,
the level and reasons the check found (portal.screening), and the waiver both parties sign for a potential conflict."""

from __future__ import annotations

import streamlit as st

from components.errors import database_errors_as_messages, show_refusal
from portal.db import Backend, Claims
from portal.plain_text import plain
from portal.refusal import Refusal
from portal.screening import LEVEL_TEXT, check, declared_sentence, sign_waiver

LEVEL_STYLE = {"none": st.success, "waived": st.info, "potential": st.warning, "blocking": st.error}


def forget_screening_check(key: str) -> None:
    """Drop the panel's last answer: after a request's screening, an earlier check is no longer the latest."""
    st.session_state.pop(f"conflict_result_{key}", None)


def screening_check_panel(backend: Backend, claims: Claims, other_id: str, *, key: str) -> None:
    """A 'Check for conflicts' button; after a check, the result and (for potential ones) the waiver."""
    state_key = f"conflict_result_{key}"
    if st.button("Check for conflicts", key=f"conflict_check_{key}", icon=":material/policy:"):
        with database_errors_as_messages():
            st.session_state[state_key] = check(backend, claims, other_id)
    result = st.session_state.get(state_key)
    if not result:
        return
    LEVEL_STYLE[result["level"]](LEVEL_TEXT[result["level"]])
    for reason in result["reasons"]:
        if reason.get("label"):
            # One line per kind of your own entries, with no period: which one matched is not told.
            st.markdown(f"- {plain(declared_sentence(reason['label']))}")  # kinds and names they typed
        else:
            st.markdown(f"- {plain(reason['text'])}")  # one sentence, however many rows matched
    if result["level"] not in ("potential", "waived"):
        return
    waiver = result.get("waiver") or {}
    if waiver.get("i_signed"):
        st.caption(
            "You signed the waiver."
            + (" They signed too." if waiver.get("they_signed") else " Waiting for the other party to sign.")
        )
        return
    with st.form(f"waiver_form_{key}"):
        rationale = st.text_area(
            "Your rationale (what you discussed, why you proceed, how you will manage it)",
            key=f"waiver_rationale_{key}",
            max_chars=2000,
        )
        if st.form_submit_button("Sign the waiver", key=f"waiver_sign_{key}"):
            try:
                with database_errors_as_messages():
                    st.session_state[state_key] = sign_waiver(backend, claims, other_id, rationale)
                st.session_state["consultant_refresh"] = True  # the profile's conflict flag may have changed
                st.rerun()
            except Refusal as exc:
                show_refusal(exc)
