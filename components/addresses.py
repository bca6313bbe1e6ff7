"""Addresses meant for visitors (/sign-in, /register), opened by a member: their home, with a note saying why.

Every address the portal sends or shows opens a page for every visitor (issue 26, item 2): an email's "Sign in"
link opened in a browser that is signed in lands on Home, not on "Page not found"."""

from __future__ import annotations

import streamlit as st

from components import context
from portal.plain_text import plain

NOTE_PARAM = "note"  # Home's query parameter naming why a member was brought there
NOTES = {
    "signed_in": "You are signed in as **{name}**. To use another account, sign out first (Account page).",
    "registered": "You have an account already: you are signed in as **{name}**. To create another account, sign "
    "out first (Account page).",
}


def home_with_a_note(reason: str) -> None:
    """For a signed-in member: open Home with the reason in its address (nothing happens for a visitor).

    In the address, not in the session: a rerun just after Home is drawn (the sign-in cookie component reports
    then) would draw Home again without a note kept for one run; a link to Home drops it."""
    if context.current_user() is None:
        return
    st.switch_page("views/home.py", query_params={NOTE_PARAM: reason})


def show_home_note() -> None:
    """Home shows the note while its address names a reason."""
    user = context.current_user()
    if user is not None and (reason := st.query_params.get(NOTE_PARAM)) in NOTES:
        st.info(NOTES[reason].format(name=plain(user.display_name)), icon=":material/info:")
