"""Where a verification link lands: a registration becomes the account, or an account's address is verified.

A registration's link first shows the username it asked for, and creates the account only when its reader says
so; "This was not me" cancels it (issue 23, item 8: anyone can type someone else's address when registering, and
the owner opening the link must not create the stranger's account). The link's token is used once
(portal.account_links.redeem_verification / cancel_registration); the outcome is kept in the session so that a
rerun of this page does not report the spent link.
"""

import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.account_links import (
    CONFIRMED_ALREADY,
    LINK_SENTENCES,
    cancel_registration,
    link_state,
    redeem_verification,
    token_hash,
)
from portal.plain_text import plain

st.title("Confirm your email")
st.caption("The link in our email brings you here to confirm that the address is yours.")

token = st.query_params.get("token")
signed_out = context.current_user() is None  # the sign-in and register pages exist only for visitors
if not token:
    st.info(
        "This page opens from the link in the email we sent you. To get one, register, or (signed in) ask for "
        "it on the Account page.",
        icon=":material/mail:",
    )
    if signed_out:
        st.page_link("views/register.py", label="Register", icon=":material/person_add:")
    st.stop()

outcomes = st.session_state.setdefault("verify_outcomes", {})
key = token_hash(token)
if key not in outcomes:
    with database_errors_as_messages():
        state = link_state(context.backend(), token)
    if state.kind == "registration" and state.state == "valid":
        st.markdown(
            f"Someone asked to create the account **{plain(state.username)}** with this email address. If it "
            "was you, create it now and sign in with the password you chose. If not, say so: the registration "
            "is cancelled and nothing is created."
        )
        create, not_me = st.columns(2)
        if create.button("Create my account", key="verify_create", type="primary", icon=":material/person_add:"):
            with database_errors_as_messages():
                outcomes[key] = redeem_verification(context.backend(), token)
        elif not_me.button("This was not me", key="verify_not_me", icon=":material/block:"):
            with database_errors_as_messages():
                outcomes[key] = cancel_registration(context.backend(), token)
        else:
            st.stop()
    else:
        with database_errors_as_messages():
            outcomes[key] = redeem_verification(context.backend(), token)
outcome, username = outcomes[key]["outcome"], outcomes[key].get("username")

if outcome == "created":
    st.success(
        f"Your email is confirmed and your account **{plain(username)}** is ready. Sign in with the username and "
        "password you chose.",
        icon=":material/check_circle:",
    )
    if signed_out:
        st.page_link("views/sign_in.py", label="Sign in now", icon=":material/login:")
elif outcome == "confirmed":
    st.success(CONFIRMED_ALREADY.format(username=plain(username)), icon=":material/check_circle:")
    if signed_out:
        st.page_link("views/sign_in.py", label="Sign in", icon=":material/login:")
    else:
        st.page_link("views/home.py", label="Home", icon=":material/home:")
elif outcome == "verified":
    st.success(
        "Your email address is verified: the portal may now send you the emails you chose.",
        icon=":material/check_circle:",
    )
elif outcome == "cancelled":
    st.success(LINK_SENTENCES["cancelled"], icon=":material/block:")
    if signed_out:
        st.page_link("views/sign_in.py", label="Sign in", icon=":material/login:")
else:
    st.error(LINK_SENTENCES[outcome], icon=":material/link_off:")
    if outcome in ("expired", "spent", "unknown", "username_taken"):
        st.markdown(
            "To get a new link: register again; or, for the address of an account you have, sign in and "
            "ask for one on the Account page."
        )
        if signed_out:
            st.page_link("views/register.py", label="Register again", icon=":material/person_add:")
    if signed_out:
        st.page_link("views/sign_in.py", label="Sign in", icon=":material/login:")
