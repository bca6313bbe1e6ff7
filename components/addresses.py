"""Addresses meant for visitors (/sign-in, /register), opened by a member: their home, with a note saying why.

Every address the portal sends or shows opens a page for every visitor (issue 26, item 2): an email's "Sign in"
link opened in a browser that is signed in lands on Home, not on "Page not found"."""

from __future__ import annotations

import streamlit as st

from components import context
from portal.plain_text import plain

HOME_NOTE_KEY = "portal_home_note"
NOTES = {
    "signed_in": "You are signed in as **{name}**. To use another account, sign out first (Account page).",
    "registered": "You have an account already: you are signed in as **{name}**. To create another account, sign "
    "out first (Account page).",
}


def home_with_a_note(reason: str) -> None:
    """For a signed-in member: keep the note for Home and open Home (nothing happens for a visitor)."""
    user = context.current_user()
    if user is None:
        return
    st.session_state[HOME_NOTE_KEY] = NOTES[reason].format(name=plain(user.display_name))
    st.switch_page("views/home.py")


def show_home_note() -> None:
    """Home shows the note once."""
    if note := st.session_state.pop(HOME_NOTE_KEY, None):
        st.info(note, icon=":material/info:")
