"""Forgot your password: a username or email in, one answer out, whoever asks.

If a verified account matches, a one-time link goes to its address (portal.account_links); the page says the
same sentence either way, so it never tells whether a username or an address has an account.
"""

import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.account_links import RESET_RULE, request_password_reset

st.title("Forgot your password")
st.caption("Type your username or your email address; we send a link to choose a new password.")

with st.form("forgot_password_form", border=True):
    identifier = st.text_input("Username or email", key="forgot_identifier", autocomplete="username", max_chars=320)
    slot = st.empty()
    submitted = st.form_submit_button("Send me a link", type="primary", key="forgot_submit")
st.caption(RESET_RULE)

if submitted:
    st.session_state.pop("forgot_answer", None)
    if not (identifier or "").strip():
        slot.error("Enter your username or your email address.", icon=":material/error:")
    else:
        with database_errors_as_messages():
            st.session_state["forgot_answer"] = request_password_reset(context.backend(), identifier)
if answer := st.session_state.get("forgot_answer"):
    st.success(answer, icon=":material/mark_email_unread:")
if context.current_user() is None:  # the sign-in page exists only for visitors
    st.page_link("views/sign_in.py", label="Back to sign in", icon=":material/login:")
