"""Where a reset link lands: choose a new password, once.

On success the password changes, the lock (if any) lifts, every browser signed in to the account is signed out
and the link is spent (portal.account_links.reset_password). An expired or spent link says so and offers to
send a new one.
"""

import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.account_links import LINK_SENTENCES, link_state, reset_password, token_hash
from portal.passwords import PASSWORD_RULES, PASSWORD_RULES_LIST
from portal.plain_text import plain

st.title("Choose a new password")
st.caption("The link in our email brings you here; it works once.")

token = st.query_params.get("token")
signed_out = context.current_user() is None  # the sign-in and register pages exist only for visitors
finished = st.session_state.setdefault("reset_done", {})  # token hash -> username, per link
if token and (done := finished.get(token_hash(token))):
    # Kept: the link is spent now, and a rerun must still show what happened.
    st.success(
        f"The password of **{done}** was changed, and every browser signed in to the account was signed "
        "out. Sign in with your new password.",
        icon=":material/check_circle:",
    )
    if signed_out:
        st.page_link("views/sign_in.py", label="Sign in", icon=":material/login:")
    st.stop()
if not token:
    st.info("This page opens from the link in the password-reset email.", icon=":material/mail:")
    st.page_link("views/forgot_password.py", label="Send me a link", icon=":material/lock_reset:")
    st.stop()

with database_errors_as_messages():
    state = link_state(context.backend(), token)
if state.kind not in (None, "reset") or state.state != "valid":
    reason = LINK_SENTENCES["unknown" if state.kind not in (None, "reset") else state.state]
    st.error(f"{reason} Ask for a new one: it takes a minute.", icon=":material/link_off:")
    st.page_link("views/forgot_password.py", label="Send me a new link", icon=":material/lock_reset:")
    st.stop()

with st.form("reset_password_form", border=True):
    st.markdown(f"New password for **{plain(state.username)}**")
    password = st.text_input(
        "New password", type="password", key="reset_new_password", autocomplete="new-password", help=PASSWORD_RULES
    )
    slot = st.empty()
    repeat = st.text_input(
        "Repeat new password", type="password", key="reset_repeat_password", autocomplete="new-password"
    )
    repeat_slot = st.empty()
    st.markdown("**Your password**  \n" + PASSWORD_RULES_LIST)
    submitted = st.form_submit_button("Change password", type="primary", key="reset_submit")

if submitted:
    if (password or "") != (repeat or ""):
        repeat_slot.error("The two passwords differ: type the same password twice.", icon=":material/error:")
    else:
        try:
            with database_errors_as_messages():
                result = reset_password(context.backend(), token, password)
        except ValueError as exc:  # the password rules: nothing was spent
            slot.error(str(exc), icon=":material/error:")
        else:
            if result["outcome"] == "changed":
                finished[token_hash(token)] = result["username"]
                st.rerun()
            st.error(f"{LINK_SENTENCES[result['outcome']]} Ask for a new one.", icon=":material/link_off:")
            st.page_link("views/forgot_password.py", label="Send me a new link", icon=":material/lock_reset:")
