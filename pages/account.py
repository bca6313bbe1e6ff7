"""Account: change your password or sign out."""

import streamlit as st
from streamlit_authenticator.utilities import CredentialsError, ResetError

from components import context
from components.errors import database_errors_as_messages

user = context.require_user()
st.title("Account")
st.caption("Change your password, or sign out of this browser.")

authenticator = context.authenticator()
with database_errors_as_messages():
    try:
        if authenticator.reset_password(
            user.username, location="main", key="reset_password_form",
            fields={"Form name": "Change password", "Current password": "Current password",
                    "New password": "New password", "Repeat password": "Repeat new password",
                    "Reset": "Change password"},
        ):
            st.success("Your password was changed.", icon=":material/check_circle:")
    except CredentialsError:
        st.error("The current password is incorrect.", icon=":material/error:")
    except ResetError as exc:
        st.error(str(exc).replace("\n\n", " ").strip(), icon=":material/error:")

st.divider()
if st.button("Sign out", key="sign_out", icon=":material/logout:"):
    authenticator.logout(location="unrendered")
    st.session_state.pop("portal_user", None)
    st.rerun()
