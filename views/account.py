"""Account: your email address (and its verification), change your password, sign out (here, or everywhere),
download your data, delete your account."""

import streamlit as st
from streamlit_authenticator.utilities import CredentialsError, ResetError

from components import context, sign_in_sessions
from components.errors import database_errors_as_messages, show_refusal
from components.registration import refusal_field
from portal.account_links import VERIFY_HOURS, my_email, request_my_verification
from portal.auth import LOCKOUT_MINUTES, MAX_FAILED_ATTEMPTS, AccountLocked
from portal.db import APIError
from portal.mydata import delete_my_account, export_my_data, export_zip
from portal.plain_text import plain
from portal.refusal import Refusal

user = context.require_user()
st.title("Account")
st.caption("Change your password, download your data, delete your account, or sign out.")

authenticator = context.authenticator()
st.header("Email address")
with database_errors_as_messages():
    address = my_email(context.backend(), user.claims)
if address["verified"]:
    st.markdown(f"**{plain(address['email'])}** — verified.")
else:
    # Accounts made before sign-up was verified: they sign in as before, and nothing but this link is emailed
    # to the address until it is verified.
    st.markdown(
        f"**{plain(address['email'])}** — not verified yet. Until it is, the portal emails it nothing but the "
        "verification link, and a forgotten password cannot be reset by email."
    )
    if st.button("Verify my email", key="account_verify_email", icon=":material/mark_email_read:"):
        try:
            with database_errors_as_messages():
                request_my_verification(context.backend(), user.claims)
        except APIError as exc:
            st.error(exc.message, icon=":material/error:")
        else:
            st.session_state["account_verify_notice"] = (
                f"A link is on its way to {plain(address['email'])}; open it within {VERIFY_HOURS} hours."
            )
    if notice := st.session_state.get("account_verify_notice"):
        st.success(notice, icon=":material/check_circle:")

st.divider()
st.header("Password")
with database_errors_as_messages():
    try:
        if authenticator.reset_password(
            user.username,
            location="main",
            key="reset_password_form",
            fields={
                "Form name": "Change password",
                "Current password": "Current password",
                "New password": "New password",
                "Repeat password": "Repeat new password",
                "Reset": "Change password",
            },
        ):
            # The change ended every session of the account (any other browser is signed out); this one goes on
            # with the session the change opened, in a new cookie.
            sign_in_sessions.reissue_cookie(authenticator, context.credentials())
            # Kept, not one-shot: setting the new cookie reruns the page, which would wipe a message drawn once.
            st.session_state["account_password_notice"] = (
                "Your password was changed. Every other browser signed in to your account was signed out."
            )
    except AccountLocked as exc:
        st.session_state.pop("account_password_notice", None)
        st.error(str(exc), icon=":material/lock_clock:")
    except CredentialsError:
        st.session_state.pop("account_password_notice", None)
        st.error(
            f"The current password is incorrect. After {MAX_FAILED_ATTEMPTS} failed attempts the account is locked "
            f"for {LOCKOUT_MINUTES} minutes.",
            icon=":material/error:",
        )
    except ResetError as exc:
        st.session_state.pop("account_password_notice", None)
        # The authenticator words a refused new password with its own (replaced) rules: say the portal's.
        st.error(refusal_field(str(exc))[1], icon=":material/error:")
if notice := st.session_state.get("account_password_notice"):
    st.success(notice, icon=":material/check_circle:")

st.divider()
st.header("My data")
st.caption("Everything the portal holds about you, as JSON and CSV in one zip file.")
if st.button("Prepare my data", key="my_data_prepare", icon=":material/folder_zip:"):
    with database_errors_as_messages():
        st.session_state["my_data_zip"] = export_zip(export_my_data(context.backend(), user.claims))
if st.session_state.get("my_data_zip"):
    st.download_button(
        "Download my data (.zip)",
        data=st.session_state["my_data_zip"],
        file_name="my-portal-data.zip",
        mime="application/zip",
        key="my_data_download",
        icon=":material/download:",
    )

with st.expander("Delete my account"):
    st.markdown(
        "Your profile, declarations, credentials and notifications are deleted. Requests, sessions and "
        "plans you share with colleagues stay in their records under the name “Former member”; open ones "
        "are cancelled or withdrawn and the other party is told."
    )
    confirm = st.text_input("Type your username to confirm", key="delete_confirm")
    if st.button("Delete my account", key="delete_account", type="primary"):
        try:
            with database_errors_as_messages():
                delete_my_account(context.backend(), user.claims, confirm)
        except Refusal as exc:
            show_refusal(exc)
        else:
            sign_in_sessions.sign_out_here(authenticator)  # the account's sessions went with its credentials
            # Removing the cookie reruns the app, now signed out: the sign-in page says it too.
            st.session_state["sign_in_notice"] = "Your account was deleted."
            st.success("Your account was deleted.")
            st.stop()

st.divider()
st.caption(
    "Signing out ends this browser's session on the server: a copy of its sign-in cookie opens nothing "
    "afterwards. Sign out everywhere ends every session of your account, on every device."
)
left, right = st.columns(2)
if left.button("Sign out", key="sign_out", icon=":material/logout:"):
    with database_errors_as_messages():
        sign_in_sessions.sign_out(authenticator, context.backend())
        st.rerun()
if right.button("Sign out everywhere", key="sign_out_everywhere", icon=":material/devices:"):
    with database_errors_as_messages():
        sign_in_sessions.sign_out(authenticator, context.backend(), everywhere_for=user.id)
        st.rerun()
