"""Sign in with a username and password; five failures lock the account for 15 minutes."""

import streamlit as st
from streamlit_authenticator.utilities import LoginError

from components import context
from components.errors import database_errors_as_messages
from portal.auth import LOCKOUT_MINUTES, MAX_FAILED_ATTEMPTS

st.title("Sign in")
st.caption("Find a treating colleague, or manage the colleagues who consult you.")

authenticator = context.authenticator()
with database_errors_as_messages():
    try:
        authenticator.login(
            location="main",
            max_login_attempts=MAX_FAILED_ATTEMPTS,
            key="sign_in_form",
            fields={"Form name": "Your account", "Username": "Username", "Password": "Password",
                    "Login": "Sign in"},
        )
    except LoginError:
        st.session_state["authentication_status"] = False
    tried = context.credentials().users.tried_record()

if st.session_state.get("authentication_status") and tried is not None and tried.locked_until is not None:
    # The right password arrived while parallel wrong ones had locked the account: the lock holds.
    authenticator.logout(location="unrendered")
    st.session_state["authentication_status"] = False
status = st.session_state.get("authentication_status")
if status:
    st.success("Signed in. Opening your home page…", icon=":material/check_circle:")
    if st.button("Continue", key="sign_in_continue", type="primary"):
        st.rerun()
elif status is False:
    if tried is not None and tried.locked_until is not None:
        st.error(
            f"This account is locked after {MAX_FAILED_ATTEMPTS} failed sign-in attempts. "
            f"Try again after {tried.locked_until:%H:%M} UTC ({LOCKOUT_MINUTES} minutes from the "
            "last attempt), or ask an administrator to unlock it.",
            icon=":material/lock_clock:",
        )
    else:
        st.error(
            "The username or password is incorrect. "
            f"After {MAX_FAILED_ATTEMPTS} failed attempts the account is locked for {LOCKOUT_MINUTES} minutes.",
            icon=":material/error:",
        )

st.page_link("views/register.py", label="New here? Create an account", icon=":material/person_add:")
