"""Sign in with a username and password; five failures lock the account for 15 minutes.

Every typed name gets the same treatment and the same answers, whether or not an account has it
(portal.auth: a dummy bcrypt check, failures counted and locked per typed name): the page cannot
tell a stranger which usernames exist.
"""

import streamlit as st
from streamlit_authenticator.utilities import LoginError

from components import context, sign_in_sessions
from components.addresses import home_with_a_note
from components.errors import database_errors_as_messages
from portal.auth import MAX_FAILED_ATTEMPTS, portal_has_accounts, sign_in_refusal

# A member who opens /sign-in (an email's link, a bookmark) is signed in already: home, saying so.
home_with_a_note("signed_in")

st.title("Sign in")
st.caption("Find a treating colleague, or manage the colleagues who consult you.")
# What the last page did as it signed this browser out (an account deleted): kept until someone signs in here.
if notice := st.session_state.get("sign_in_notice"):
    st.success(notice, icon=":material/check_circle:")

authenticator = context.authenticator()
users = context.credentials().users
with database_errors_as_messages():
    empty = not portal_has_accounts(context.backend())
if empty:
    st.info(
        "This portal has no accounts yet. Register the first one; to try it with sample data instead, start "
        "it with `PORTAL_DEMO_DATA=1` (README).",
        icon=":material/info:",
    )
st.header("Your account")
with database_errors_as_messages():
    try:
        with users.answering_every_name():
            authenticator.login(
                location="main",
                max_login_attempts=MAX_FAILED_ATTEMPTS,
                key="sign_in_form",
                fields={
                    "Form name": "Username and password",
                    "Username": "Username",
                    "Password": "Password",
                    "Login": "Sign in",
                },
            )
    except LoginError:
        st.session_state["authentication_status"] = False
    tried = users.tried_record()
    opened = users.opened_session()

if st.session_state.get("authentication_status"):
    if opened is None:
        # The right password arrived while parallel wrong ones had locked the account: the lock holds, and no
        # session was opened (the same for a name without an account, which never signs in).
        authenticator.logout(location="unrendered")
        st.session_state["authentication_status"] = False
    else:
        sign_in_sessions.remember(opened)
        st.session_state.pop("sign_in_notice", None)
status = st.session_state.get("authentication_status")
if status:
    st.success("Signed in. Opening your home page…", icon=":material/check_circle:")
    if st.button("Continue", key="sign_in_continue", type="primary"):
        st.rerun()
elif status is False:
    locked_until = tried.locked_until if tried is not None else None
    st.error(sign_in_refusal(locked_until), icon=":material/lock_clock:" if locked_until else ":material/error:")

st.page_link("views/forgot_password.py", label="Forgot your password?", icon=":material/lock_reset:")
st.page_link("views/register.py", label="New here? Create an account", icon=":material/person_add:")
