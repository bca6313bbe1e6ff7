"""My profile's email choices: one switch per group of emails, and the quiet morning summary."""

from __future__ import annotations

import streamlit as st

from components.errors import as_refusal, database_errors_as_messages, show_refusal
from portal.auth import CurrentUser
from portal.db import Backend, DatabaseUnavailable
from portal.email_choices import (
    GROUPS,
    SUMMARY_LABEL,
    choices_in_words,
    muted_from_switches,
    my_email_choices,
    save_email_choices,
)
from portal.refusal import Refusal


def email_choices_section(backend: Backend, user: CurrentUser) -> None:
    st.header("Emails")
    st.caption(
        "Which changes also reach you by email. The notices in the app stay as they are whatever you choose. "
        "Nothing is emailed to an address until it is verified: emails go to your account's address once "
        "you have confirmed it through the link sent to it."
    )
    loaded_key = f"email_choices_{user.id}"  # read once per session; the switches keep what you change
    if loaded_key not in st.session_state:
        with database_errors_as_messages():
            st.session_state[loaded_key] = my_email_choices(backend, user.claims)
    saved = st.session_state[loaded_key]
    muted = set(saved.get("muted") or [])
    with st.form("email_choices_form", border=False):
        for group in GROUPS:
            st.toggle(group.title, value=group.name not in muted, key=f"email_group_{group.name}", help=group.contains)
            st.caption(group.contains)
        st.toggle(
            SUMMARY_LABEL,
            value=bool(saved.get("summary")),
            key="email_summary",
            help="Everything due that day comes together in one email at 07:00 in your time zone; calendar "
            "invitations ride along.",
        )
        submitted = st.form_submit_button("Save email choices", key="email_choices_save")
    if submitted:
        wanted = {g.name: bool(st.session_state.get(f"email_group_{g.name}")) for g in GROUPS}
        try:
            choices = save_email_choices(
                backend,
                user.claims,
                muted=muted_from_switches(wanted),
                summary=bool(st.session_state.get("email_summary")),
            )
        except (Refusal, DatabaseUnavailable) as exc:
            show_refusal(as_refusal(exc))
        else:
            st.session_state[loaded_key] = choices
            st.success(f"Email choices saved. {choices_in_words(choices)}", icon=":material/check_circle:")
    else:
        st.caption(choices_in_words(saved))
